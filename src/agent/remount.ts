// Mounting a journaled mount again at its own path. remountSteps: after the guest lost it (a
// reboot): the path is checked as at add (no symlink on the way, not taken), its folder made again
// when the new boot lacks it (an initramfs root forgets it; then removal takes it away), then the
// transport's own way back: mount(8) on the still-plugged device, or a new reverse-sshfs session.
// rebuildSteps: when the host side must start afresh (its folder replaced): the guest mount is
// detached (lazily: a process inside keeps what it holds of the old folder), the host side
// made again, and mounted at the same path.
import type { Progress } from "../../drivers/driver.ts";
import type { GuestCommands } from "../guest-exec/index.ts";
import { HotmountError } from "../core/errors.ts";
import { failpoint } from "../core/failpoint.ts";
import { checkMountPoint, createMountPoint, guestMounts, unmount } from "./guest-mount.ts";
import type { MountRecord } from "./journal.ts";
import type { MountTransport } from "./transports/types.ts";

const quiet: Progress = () => {};

export async function remountSteps(guest: GuestCommands, rec: MountRecord, t: MountTransport): Promise<void> {
  // Back already (a reverse-sshfs session that re-established itself meanwhile): nothing to do.
  if ((await guestMounts(guest)).some((m) => m.mountPoint === rec.mountPoint)) return;
  if (await checkMountPoint(guest, rec.mountPoint)) {
    await createMountPoint(guest, rec.mountPoint);
    rec.createdDir = true;
  }
  if (t.reestablish) await t.reestablish(rec);
  else await t.mount(rec, quiet);
}

export async function rebuildSteps(guest: GuestCommands, rec: MountRecord, t: MountTransport): Promise<void> {
  // reverse-sshfs ends its old session (and its mount) itself before it starts again.
  if (t.reestablish) return t.reestablish(rec);
  if ((await guestMounts(guest)).some((m) => m.mountPoint === rec.mountPoint)) {
    const r = await unmount(guest, rec.mountPoint, { lazy: true, timeoutMs: 10_000 });
    if (!r.ok) throw new HotmountError("GUEST_COMMAND_FAILED", `the guest could not detach ${rec.mountPoint}: ${r.message}`);
  }
  await t.detach(rec, quiet);
  failpoint("rebuild:detached");
  await t.attach(rec, quiet);
  await t.mount(rec, quiet);
}
