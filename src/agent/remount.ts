// Mounting a journaled mount again at its own path after the guest lost it (a reboot): the path
// is checked as at add (no symlink on the way, not taken), its folder made again when the new
// boot lacks it (an initramfs root forgets it; then removal takes it away), then the transport's
// own way back: mount(8) on the still-plugged device, or a new reverse-sshfs session.
import type { Progress } from "../../drivers/driver.ts";
import type { GuestCommands } from "../guest-exec/index.ts";
import { checkMountPoint, createMountPoint, guestMounts } from "./guest-mount.ts";
import type { MountRecord } from "./journal.ts";
import type { TransportDriver } from "./transports/types.ts";

const quiet: Progress = () => {};

export async function remountSteps(guest: GuestCommands, rec: MountRecord, t: TransportDriver): Promise<void> {
  // Back already (a reverse-sshfs session that re-established itself meanwhile): nothing to do.
  if ((await guestMounts(guest)).some((m) => m.mountPoint === rec.mountPoint)) return;
  if (await checkMountPoint(guest, rec.mountPoint)) {
    await createMountPoint(guest, rec.mountPoint);
    rec.createdDir = true;
  }
  if (t.reestablish) await t.reestablish(rec);
  else await t.mount(rec, quiet);
}
