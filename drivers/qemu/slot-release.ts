// device_del on the aarch64 `virt` machine without pciehp's 5 s wait. There the guest drives the
// root ports natively (pciehp): QEMU's device_del presses the slot's attention button, and Linux
// waits 5 s (the time a person has to cancel a button press) before it powers the slot off and
// QEMU completes the unplug. The agent can run a command in the guest, so after device_del the
// guest powers the slot off itself (/sys/bus/pci/slots/N/power), which pciehp does at once; QEMU
// then sends DEVICE_DELETED as usual. On q35 (ACPI hot-plug) nothing waits, so nothing is done.
// Best-effort: when the guest command fails, DEVICE_DELETED still comes after the 5 s.
import type { InstanceConfig } from "../../src/core/instance-config.ts";
import { deviceDelAndWait, queryPci, type PciBus, type QmpClient, type QmpEvent } from "../../src/qmp/index.ts";
import { slotPowerOffArgv } from "../../src/guest-exec/pci-slot.ts";
import { sleep } from "../../src/util/process.ts";
import type { GuestRunner, Logger, PluggedDevice } from "../driver.ts";

/** The bus behind root port `slot` as the guest numbered it, when `id` is the device on it. */
export function busBehind(buses: PciBus[], slot: string, id: string): number | null {
  for (const bus of buses) {
    for (const d of bus.devices ?? []) {
      if (d.qdev_id !== slot || !d.pci_bridge) continue;
      return d.pci_bridge.devices?.some((c) => c.qdev_id === id) ? d.pci_bridge.bus.secondary : null;
    }
  }
  return null;
}

/** device_del and wait for DEVICE_DELETED; on virt, with `guest`, the guest releases the slot meanwhile. */
export async function deviceDelReleased(
  c: { qmp: QmpClient; cfg: InstanceConfig; log: Logger },
  dev: PluggedDevice,
  timeoutMs: number,
  guest?: GuestRunner,
): Promise<QmpEvent> {
  const bus = guest && c.cfg.arch === "aarch64" ? busBehind(await queryPci(c.qmp).catch(() => []), dev.slot, dev.id) : null;
  const deleted = deviceDelAndWait(c.qmp, dev.id, timeoutMs);
  if (guest && bus !== null) {
    deleted.catch(() => {}); // the caller gets its outcome below; not unhandled meanwhile
    // After device_del has pressed the button: pciehp then cancels its wait and powers off now.
    await sleep(50);
    await guest(slotPowerOffArgv(bus)).catch((e) => c.log.warn("the guest could not power the slot off; waiting for pciehp", { id: dev.id, error: String(e) }));
  }
  return deleted;
}
