// Typed wrappers for the few QMP commands hotmount uses. Types cover the fields we read
// (QEMU 7.2's QAPI schema); everything else passes through untyped.
import type { ExecuteOptions, QmpClient } from "./client.ts";
import { isDeviceDeleted, type QmpEvent } from "./events.ts";

export interface StatusInfo {
  running: boolean;
  /** "prelaunch" (-S, never run), "running", "paused", "shutdown", ... */
  status: string;
  singlestep?: boolean;
}

export interface VersionInfo {
  qemu: { major: number; minor: number; micro: number };
  package: string;
}

export interface Memdev {
  id?: string;
  size: number;
  merge: boolean;
  dump: boolean;
  prealloc: boolean;
  /** virtiofsd needs guest RAM shared with it: memory-backend-memfd/file with share=on. */
  share: boolean;
  policy: string;
  "host-nodes": number[];
  reserve?: boolean;
}

export interface PciDevice {
  bus: number;
  slot: number;
  function: number;
  class_info: { class: number; desc?: string };
  id: { vendor: number; device: number; subsystem?: number; "subsystem-vendor"?: number };
  qdev_id: string;
  /** Set on bridges and root ports: the bus behind them. */
  pci_bridge?: { bus: { number: number; secondary: number; subordinate: number }; devices?: PciDevice[] };
  [key: string]: unknown;
}

export interface PciBus {
  bus: number;
  devices: PciDevice[];
}

export interface ChardevInfo {
  label: string;
  filename: string;
  "frontend-open": boolean;
}

export interface ObjectPropertyInfo {
  name: string;
  type: string;
  description?: string;
}

/** The "backend" argument of chardev-add, e.g. a unix socket client for vhost-user-fs. */
export type ChardevBackend = { type: string; data: Record<string, unknown> };

/** device_add properties; QMP passes them flat next to driver and id. */
export interface DeviceProps {
  driver: string;
  id: string;
  bus?: string;
  addr?: string;
  [prop: string]: unknown;
}

export const queryStatus = (c: QmpClient, o?: ExecuteOptions) => c.execute<StatusInfo>("query-status", undefined, o);
export const queryVersion = (c: QmpClient, o?: ExecuteOptions) => c.execute<VersionInfo>("query-version", undefined, o);
export const queryMemdev = (c: QmpClient, o?: ExecuteOptions) => c.execute<Memdev[]>("query-memdev", undefined, o);
export const queryPci = (c: QmpClient, o?: ExecuteOptions) => c.execute<PciBus[]>("query-pci", undefined, o);
export const queryChardev = (c: QmpClient, o?: ExecuteOptions) => c.execute<ChardevInfo[]>("query-chardev", undefined, o);

export const qomList = (c: QmpClient, path: string, o?: ExecuteOptions) => c.execute<ObjectPropertyInfo[]>("qom-list", { path }, o);

/** Returns QEMU's ChardevReturn; `pty` is set only for pty backends. */
export const chardevAdd = (c: QmpClient, id: string, backend: ChardevBackend, o?: ExecuteOptions) =>
  c.execute<{ pty?: string }>("chardev-add", { id, backend }, o);

export const chardevRemove = async (c: QmpClient, id: string, o?: ExecuteOptions): Promise<void> => {
  await c.execute("chardev-remove", { id }, o);
};

export const deviceAdd = async (c: QmpClient, props: DeviceProps, o?: ExecuteOptions): Promise<void> => {
  await c.execute("device_add", props, o);
};

/**
 * Asks QEMU to unplug `id`. It returns at once; the device is only gone at DEVICE_DELETED,
 * which on a PCIe/ACPI slot needs the guest OS to cooperate. Use deviceDelAndWait.
 */
export const deviceDel = async (c: QmpClient, id: string, o?: ExecuteOptions): Promise<void> => {
  await c.execute("device_del", { id }, o);
};

/** device_del, then wait for the DEVICE_DELETED of the device itself (see isDeviceDeleted). */
export const deviceDelAndWait = (c: QmpClient, id: string, timeoutMs: number): Promise<QmpEvent> =>
  c.waitForEvent(
    "DEVICE_DELETED",
    (ev) => isDeviceDeleted(ev, id),
    () => deviceDel(c, id),
    { timeoutMs },
  );

/** Stops QEMU. The connection then closes, which is the expected outcome, not a failure. */
export const quit = async (c: QmpClient, o?: ExecuteOptions): Promise<void> => {
  await c.execute("quit", undefined, o);
};

/** Depth-first walk over every PCI device, including those behind bridges and root ports. */
export function* allPciDevices(buses: PciBus[]): Generator<PciDevice> {
  const walk = function* (devs: PciDevice[]): Generator<PciDevice> {
    for (const d of devs) {
      yield d;
      if (d.pci_bridge?.devices) yield* walk(d.pci_bridge.devices);
    }
  };
  for (const b of buses) yield* walk(b.devices);
}

/** The PCI device with qdev id `id`, or undefined. */
export function findPciDevice(buses: PciBus[], id: string): PciDevice | undefined {
  for (const d of allPciDevices(buses)) if (d.qdev_id === id) return d;
  return undefined;
}
