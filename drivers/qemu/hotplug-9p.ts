// 9p hot-plug on QEMU. QEMU has no runtime fsdev_add, so the VM reserves K fsdevs at boot, each
// on a symlink under the instance dir (one writable and one read-only fsdev per link). Plugging
// points the link at the host folder and then device_adds virtio-9p-pci: QEMU resolves the link
// when the device is realized.
import { readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { HotmountError } from "../../src/core/errors.ts";
import { ninePEmptyDir, ninePSlotLink, ninePSlotOwner } from "../../src/core/paths.ts";
import { deviceAdd, QmpExecuteError } from "../../src/qmp/index.ts";
import { deviceTag, type GuestRunner, type PlugRequest, type PluggedDevice, type Progress } from "../driver.ts";
import { ninePFsdevId } from "./argv-build.ts";
import type { HotplugContext } from "./qemu-session.ts";
import { deviceDelReleased } from "./slot-release.ts";

/**
 * Which reserved 9p slot serves which mount. Kept on disk next to each link (`slotN.owner`), so
 * an agent that restarts after a crash still knows which link to point back at `empty`.
 */
export class NinePSlots {
  private readonly empty: string;

  constructor(
    private readonly name: string,
    readonly total: number,
  ) {
    this.empty = ninePEmptyDir(name);
  }

  private ownerFile(n: number): string {
    return ninePSlotOwner(this.name, n);
  }

  private owner(n: number): string | null {
    try {
      return readFileSync(this.ownerFile(n), "utf8").trim() || null;
    } catch {
      return null;
    }
  }

  private busy(n: number): boolean {
    if (this.owner(n)) return true;
    try {
      return readlinkSync(ninePSlotLink(this.name, n)) !== this.empty;
    } catch {
      return false;
    }
  }

  take(id: string): number {
    for (let n = 0; n < this.total; n++) {
      if (!this.busy(n)) {
        writeFileSync(this.ownerFile(n), id, { mode: 0o600 });
        return n;
      }
    }
    throw new HotmountError("NO_FREE_SLOT", `all ${this.total} reserved 9p slots are in use`, {
      hint: "Remove a 9p mount, use --type virtiofs, or restart the VM with more: `hotmount vm start NAME --9p-slots N`.",
    });
  }

  indexOf(id: string): number | null {
    for (let n = 0; n < this.total; n++) if (this.owner(n) === id) return n;
    return null;
  }

  /** Atomically retargets a slot link (rename over the old link). */
  point(n: number, target: string): void {
    const link = ninePSlotLink(this.name, n);
    const tmp = `${link}.tmp`;
    rmSync(tmp, { force: true }); // left by a crash between the two steps
    symlinkSync(target, tmp);
    renameSync(tmp, link);
  }

  release(n: number): void {
    this.point(n, this.empty);
    rmSync(this.ownerFile(n), { force: true });
  }

  /** Slots that a mount holds, as inventory backends. */
  owners(): { id: string; kind: string }[] {
    const out: { id: string; kind: string }[] = [];
    for (let n = 0; n < this.total; n++) {
      const id = this.owner(n);
      if (id) out.push({ id, kind: "9p-slot" });
    }
    return out;
  }

  releaseById(id: string): void {
    const n = this.indexOf(id);
    if (n !== null) this.release(n);
  }
}

export async function plug9p(ctx: HotplugContext, req: PlugRequest, progress: Progress): Promise<PluggedDevice> {
  const tag = deviceTag(req);
  if (ctx.ninep.total === 0) {
    throw new HotmountError(
      "UNSUPPORTED",
      `instance "${ctx.cfg.name}" was started with no reserved 9p slots, and QEMU cannot add a 9p backend to a running VM`,
      {
        hint: `QEMU has no runtime fsdev_add: a 9p share needs an fsdev declared at boot. On this VM use --type virtiofs or --type reverse-sshfs (sshfs); for 9p, restart it with \`hotmount vm start ${ctx.cfg.name} --9p-slots 4\`.`,
        details: { ninePSlots: 0, alternatives: ["virtiofs", "reverse-sshfs"] },
      },
    );
  }
  const n = ctx.ninep.take(req.id);
  let slot: string | null = null;
  try {
    slot = ctx.slots.take(req.id);
    ctx.ninep.point(n, req.hostPath);
    progress("attaching the 9p device");
    await deviceAdd(ctx.qmp, { driver: "virtio-9p-pci", id: req.id, fsdev: ninePFsdevId(n, req.writable), mount_tag: tag, bus: slot, addr: "0" });
    return { id: req.id, type: "9p", tag, slot, backend: String(n) };
  } catch (e) {
    if (slot) ctx.slots.release(slot);
    ctx.ninep.release(n);
    throw e;
  }
}

export async function unplug9p(ctx: HotplugContext, dev: PluggedDevice, progress: Progress, guest?: GuestRunner): Promise<void> {
  progress("detaching the 9p device");
  try {
    await deviceDelReleased(ctx, dev, 15_000, guest);
  } catch (e) {
    if (!(e instanceof QmpExecuteError && e.errorClass === "DeviceNotFound")) throw e;
  }
  ctx.slots.release(dev.slot);
  const n = dev.backend !== undefined ? Number(dev.backend) : ctx.ninep.indexOf(dev.id);
  if (n !== null && Number.isInteger(n)) ctx.ninep.release(n);
}
