// The agent's control session on a VZ VM hosted in its own process, with the FSHotPlugger
// capability. VZ cannot add a device to a running VM, so a "slot" is one of the spare virtio-fs
// devices (tags hotmount-0..N-1) made at boot: plug points a free one at the host folder, unplug
// points it back at the empty read-only placeholder. The guest mounts the device's fixed tag,
// which is why PluggedDevice.tag is hotmount-<i> and not the mount id.
import { statSync } from "node:fs";
import { isAbsolute } from "node:path";
import type { TransportAvailability } from "../../src/core/model.ts";
import { HotmountError } from "../../src/core/errors.ts";
import type { DeviceInventory, DriverSession, FSHotPlugger, Logger, PluggedDevice, PlugRequest, Progress } from "../driver.ts";
import { VZ_SPARE_TAG_PREFIX } from "../../ffi/vz.ts";
import type { VzHost } from "./vz-host.ts";

/** How long powerOff lets the guest shut down before VZ pulls the plug. */
export const POWEROFF_GRACE_MS = 20_000;

export function spareTag(i: number): string {
  return `${VZ_SPARE_TAG_PREFIX}${i}`;
}

export function spareSlot(i: number): string {
  return `vz-fs${i}`;
}

function slotIndex(slot: string): number | null {
  const m = /^vz-fs(\d+)$/.exec(slot);
  return m ? Number(m[1]) : null;
}

export class VzSession implements DriverSession, FSHotPlugger {
  readonly driver = "vz";

  constructor(
    private readonly host: VzHost,
    private readonly log: Logger,
  ) {}

  async powerOff(progress: Progress): Promise<void> {
    await this.host.shutdown(progress, POWEROFF_GRACE_MS, this.log);
  }

  /** The VM keeps running: it belongs to this process, not to the session. */
  async close(): Promise<void> {}

  async transports(): Promise<TransportAvailability[]> {
    const n = this.host.slots.length;
    return [
      n > 0 ? { type: "virtiofs", available: true } : { type: "virtiofs", available: false, reason: "the VM was started with no spare virtio-fs devices" },
      { type: "9p", available: false, reason: "Virtualization.framework has no 9p device" },
      // The agent shows this list as is; reverse-sshfs needs only SSH, which every VZ guest has.
      { type: "reverse-sshfs", available: true },
    ];
  }

  async capacity(): Promise<{ total: number; used: number }> {
    return { total: this.host.slots.length, used: this.host.slots.filter((s) => s !== null).length };
  }

  async plug(req: PlugRequest, progress: Progress): Promise<PluggedDevice> {
    this.host.ensureAlive();
    if (req.type !== "virtiofs") {
      throw new HotmountError("UNSUPPORTED", `the vz driver cannot attach ${req.type} devices`, {
        hint: "Use --type virtiofs, or --type reverse-sshfs.",
        details: { driver: "vz", type: req.type },
      });
    }
    if (this.host.slots.some((s) => s?.id === req.id)) {
      throw new HotmountError("MOUNT_CONFLICT", `mount ${req.id} already holds a virtio-fs device`);
    }
    let isDir = false;
    try {
      isDir = isAbsolute(req.hostPath) && statSync(req.hostPath).isDirectory();
    } catch {}
    if (!isDir) {
      throw new HotmountError("INVALID_ARGUMENT", `${req.hostPath} is not an existing directory`, {
        hint: "VZ shares whole directories; give the absolute path of one.",
      });
    }
    const i = this.host.slots.indexOf(null);
    if (i < 0) {
      throw new HotmountError("NO_FREE_SLOT", `all ${this.host.slots.length} spare virtio-fs devices of "${this.host.name}" are in use`, {
        hint: "Remove a mount, or restart the VM with more slots (VZ cannot add devices to a running VM).",
      });
    }
    progress(`pointing ${spareTag(i)} at ${req.hostPath}`);
    this.host.machine.setShare(i, req.hostPath, !req.writable);
    this.host.slots[i] = { id: req.id, hostPath: req.hostPath, writable: req.writable };
    this.log.info("vz: share set", { instance: this.host.name, id: req.id, tag: spareTag(i), hostPath: req.hostPath, writable: req.writable });
    return { id: req.id, type: "virtiofs", tag: spareTag(i), slot: spareSlot(i) };
  }

  async unplug(dev: PluggedDevice, progress: Progress): Promise<void> {
    this.host.ensureAlive();
    const i = this.host.slots.findIndex((s) => s?.id === dev.id);
    if (i < 0) {
      throw new HotmountError("MOUNT_NOT_FOUND", `mount ${dev.id} holds no virtio-fs device of "${this.host.name}"`, {
        details: { slot: dev.slot },
      });
    }
    if (slotIndex(dev.slot) !== i) this.log.warn("vz: unplug slot differs from the table", { id: dev.id, slot: dev.slot, actual: spareSlot(i) });
    progress(`pointing ${spareTag(i)} back at the empty placeholder`);
    // The slot stays taken if this throws: its share is then unknown, and reusing it could expose
    // the old folder to the next mount.
    this.host.machine.clearShare(i);
    this.host.slots[i] = null;
    this.log.info("vz: share cleared", { instance: this.host.name, id: dev.id, tag: spareTag(i) });
  }

  async scrub(id: string): Promise<void> {
    if (this.host.gone) return;
    const i = this.host.slots.findIndex((s) => s?.id === id);
    if (i < 0) return;
    try {
      this.host.machine.clearShare(i);
      this.host.slots[i] = null;
    } catch (e) {
      this.log.warn("vz: scrub could not clear a share", { id, tag: spareTag(i), error: String(e) });
    }
  }

  /** The slot table is the inventory: the VM and the table live and die in this same process. */
  async inventory(): Promise<DeviceInventory> {
    const devices = this.host.slots.flatMap((s, i) => (s ? [{ id: s.id, slot: spareSlot(i) }] : []));
    return { devices, backends: [] };
  }
}
