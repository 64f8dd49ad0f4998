// The driver contract. A driver is one folder under drivers/ that implements `Driver`.
// Extra powers are optional capabilities that callers detect (`asFSHotPlugger`), never
// "unimplemented" stubs: a session without the capability simply does not have the methods.
import type { DeviceTransport, DiscoveredVm, InstanceState, Logger, PluggedDevice, Progress, Transport, TransportAvailability } from "../src/core/model.ts";
import type { InstanceConfig } from "../src/core/instance-config.ts";
import { HotmountError } from "../src/core/errors.ts";

export type { DeviceTransport, Logger, PluggedDevice, Progress };

export interface RuntimeStatus {
  state: InstanceState;
  pid: number | null;
  accel: string | null;
}

export interface Driver {
  readonly name: string;
  /**
   * The VM lives inside the process that calls `start` (VZ: only the owning process may change a
   * device's share). Then the agent itself calls `start`, and `vm start` only launches the agent.
   */
  readonly vmLivesInCaller?: boolean;
  /** Boots the VM and returns once its SSH server answers. Leaves nothing behind on failure. */
  start(cfg: InstanceConfig, progress: Progress): Promise<RuntimeStatus>;
  /** Cheap: is the VM process alive? Never blocks on the guest. */
  status(cfg: InstanceConfig): Promise<RuntimeStatus>;
  /** Last-resort stop when no agent is there to do it; bounded at every step. */
  stop(cfg: InstanceConfig, progress: Progress): Promise<void>;
  /** The control session the instance's agent holds for the VM's lifetime. */
  openSession(cfg: InstanceConfig, log: Logger): Promise<DriverSession>;
}

/** Optional: a driver whose VMs something else starts (Lima, libvirt) finds them itself. */
export interface VmDiscovery {
  discover(): Promise<DiscoveredVm[]>;
  register(name: string): Promise<InstanceConfig | null>;
}

export function asVmDiscovery(d: Driver): (Driver & VmDiscovery) | undefined {
  const c = d as Partial<VmDiscovery>;
  return typeof c.discover === "function" && typeof c.register === "function" ? (d as Driver & VmDiscovery) : undefined;
}

export interface DriverSession {
  readonly driver: string;
  /** Bounded power-off (guest first, then the hypervisor); the agent calls it after its mounts are gone. */
  powerOff(progress: Progress): Promise<void>;
  close(): Promise<void>;
}

export interface PlugRequest {
  /** Mount id; becomes the device id and tag, so it must fit the tag limits. */
  id: string;
  type: DeviceTransport;
  hostPath: string;
  writable: boolean;
  /** The guest's non-root login user, for backends that map ownership (virtiofs: Rust virtiofsd). */
  owner?: { uid: number; gid: number };
}

/** What is attached right now, as the hypervisor sees it; the agent reconciles its journal with it. */
export interface DeviceInventory {
  devices: { id: string; slot: string | null }[];
  /** Backend handles that outlive a device (QEMU chardevs, virtiofsd pids). */
  backends: { id: string; kind: string; pid?: number }[];
}

export interface FSHotPlugger {
  /** Which device transports this VM can take, or why not (no shared memory, no 9p slots, ...). */
  transports(): Promise<TransportAvailability[]>;
  capacity(): Promise<{ total: number; used: number }>;
  /** Attaches a device; undoes every step it took when a later one fails. */
  plug(req: PlugRequest, progress: Progress): Promise<PluggedDevice>;
  /** Detaches a device the guest has already unmounted; frees its slot. */
  unplug(dev: PluggedDevice, progress: Progress): Promise<void>;
  /** Best-effort removal of leftovers named by id (device, backend, slot), for reconcile. */
  scrub(id: string): Promise<void>;
  inventory(): Promise<DeviceInventory>;
}

export function asFSHotPlugger(s: DriverSession): (DriverSession & FSHotPlugger) | undefined {
  const c = s as Partial<FSHotPlugger>;
  return typeof c.plug === "function" && typeof c.unplug === "function" ? (s as DriverSession & FSHotPlugger) : undefined;
}

export function requireFSHotPlugger(s: DriverSession, type: Transport): DriverSession & FSHotPlugger {
  const hp = asFSHotPlugger(s);
  if (!hp) {
    throw new HotmountError("UNSUPPORTED", `the ${s.driver} driver cannot hot-plug ${type} devices`, {
      hint: "Use --type reverse-sshfs, which works on any VM reachable over SSH.",
      details: { driver: s.driver, type },
    });
  }
  return hp;
}
