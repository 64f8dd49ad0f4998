// The guest side of removing a mount, which must succeed before anything is unplugged: a device
// pulled from under a live superblock (or a bind mount of it) makes the guest wait forever.
import { HotmountError } from "../core/errors.ts";
import type { GuestCommands } from "../guest-exec/index.ts";
import { guestMounts, holders, unmount, type GuestMountEntry } from "./guest-mount.ts";
import type { MountRecord } from "./journal.ts";

export const UMOUNT_DEADLINE_MS = 15_000;
const OWN_HOLDER_RETRIES = 6;
/** Mounts stacked at one path that a removal takes away (see unmountStacked). */
const STACKED_MAX = 4;
/** `holders()` names a process "PID COMM"; the watch helper's COMM starts so (see watch/guest-helper.ts). */
const OWN_HOLDER = /^\d+ watch-helper-/;

/**
 * Unmounts `rec` in the guest, and for a device transport any other mount of the same device.
 * Throws MOUNT_BUSY (nothing changed; retry with force) or GUEST_COMMAND_FAILED (the mount may be
 * half gone; the device stays attached). With `force`, holders are killed and the unmount is lazy.
 */
export async function unmountForRemove(guest: GuestCommands, rec: MountRecord, force: boolean): Promise<void> {
  const mounts = await guestMounts(guest);
  /** The mount table read after the unmount, when one was (unmountElsewhere takes it as its fresh read). */
  let after: GuestMountEntry[] | undefined;
  // Refused before anything is unmounted, so that a refusal leaves the mount as it was.
  if (rec.type !== "reverse-sshfs" && !force) refuseIfElsewhere(rec, mounts);
  if (mounts.some((m) => m.mountPoint === rec.mountPoint)) {
    // This filesystem only: a global sync would also wait on any other mount that cannot answer.
    // Not sshfs: it has nothing to flush (FUSE without a sync_fs), and `sync -f` opens the mount,
    // which a stuck sshfs never answers, so the blocked sync itself would then hold it busy.
    if (rec.type !== "reverse-sshfs") await guest.exec(["sync", "-f", "--", rec.mountPoint], { timeoutMs: UMOUNT_DEADLINE_MS }).catch(() => {});
    let r = await unmount(guest, rec.mountPoint, { lazy: false, timeoutMs: UMOUNT_DEADLINE_MS });
    let who: string[] = [];
    // Busy with no holder to name (a path lookup in flight holds a mount for a moment), or held
    // only by our own watch helper (a replay it had begun before it let go): both pass within a
    // request or two, so they are waited for (bounded) rather than reported as busy.
    for (let i = 0; !r.ok && r.busy && i < OWN_HOLDER_RETRIES; i++) {
      who = await holders(guest, rec.mountPoint).catch(() => []);
      if (!who.every((h) => OWN_HOLDER.test(h))) break;
      await Bun.sleep(500);
      r = await unmount(guest, rec.mountPoint, { lazy: false, timeoutMs: UMOUNT_DEADLINE_MS });
      who = [];
    }
    if (!r.ok && r.busy && !force) {
      if (!who.length) who = await holders(guest, rec.mountPoint).catch(() => []);
      throw new HotmountError("MOUNT_BUSY", `${rec.mountPoint} is busy in the guest${who.length ? `: held by ${who.join(", ")}` : ""}`, {
        hint: "Close those programs (or leave the folder), or remove with --force, which stops them and unmounts.",
        details: { holders: who },
      });
    }
    if (!r.ok && force) r = await forceUnmount(guest, rec.mountPoint);
    if (!r.ok) {
      throw new HotmountError("GUEST_COMMAND_FAILED", `the guest could not unmount ${rec.mountPoint}: ${r.message}`, {
        hint: "The device stays attached so the guest does not hang. Retry, or use --force.",
      });
    }
    if (rec.type !== "reverse-sshfs") after = await unmountStacked(guest, rec);
  }
  if (rec.type !== "reverse-sshfs") await unmountElsewhere(guest, rec, force, after);
}

async function forceUnmount(guest: GuestCommands, mountPoint: string) {
  await guest.exec(["fuser", "-k", "-m", mountPoint], { timeoutMs: 10_000 }).catch(() => {});
  const r = await unmount(guest, mountPoint, { lazy: false, timeoutMs: UMOUNT_DEADLINE_MS });
  return r.ok ? r : unmount(guest, mountPoint, { lazy: true, timeoutMs: UMOUNT_DEADLINE_MS });
}

/**
 * Mounts left under the one just unmounted at the same path: a mount whose backend died stays
 * under its replacement (heal.ts mounts the new one over it rather than leave the path bare).
 * They are dead (every access fails at once), so they are detached lazily. Bounded. Returns the
 * last mount table it read.
 */
async function unmountStacked(guest: GuestCommands, rec: MountRecord): Promise<GuestMountEntry[]> {
  const tag = rec.tag ?? rec.device?.tag ?? rec.id;
  const ours = (m: GuestMountEntry) => m.mountPoint === rec.mountPoint && m.source === tag;
  let mounts = await guestMounts(guest);
  for (let i = 0; i < STACKED_MAX && mounts.some(ours); i++) {
    await unmount(guest, rec.mountPoint, { lazy: true, timeoutMs: UMOUNT_DEADLINE_MS });
    mounts = await guestMounts(guest);
  }
  return mounts;
}

/** Other mounts of the device in the guest (bind mounts of it), outside `rec.mountPoint`. */
function elsewhere(rec: MountRecord, mounts: GuestMountEntry[]): string[] {
  const tag = rec.tag ?? rec.device?.tag ?? rec.id;
  return mounts.filter((m) => m.source === tag && (m.fstype === "9p" || m.fstype === "virtiofs") && m.mountPoint !== rec.mountPoint).map((m) => m.mountPoint);
}

function refuseIfElsewhere(rec: MountRecord, mounts: GuestMountEntry[]): void {
  const others = elsewhere(rec, mounts);
  if (!others.length) return;
  throw new HotmountError("MOUNT_BUSY", `the device of ${rec.mountPoint} is still mounted in the guest at ${others.join(", ")}`, {
    hint: "Unmount those in the guest first (bind mounts of it), or remove with --force, which unmounts them too.",
    details: { mountPoints: others },
  });
}

/**
 * Bind mounts of the device elsewhere in the guest: refused, or with force unmounted too. Read
 * again after the first check on purpose (`fresh`: a table read after the unmount): one made
 * meanwhile must not have its device detached from under it.
 */
async function unmountElsewhere(guest: GuestCommands, rec: MountRecord, force: boolean, fresh?: GuestMountEntry[]): Promise<void> {
  const mounts = fresh ?? (await guestMounts(guest));
  if (!force) return refuseIfElsewhere(rec, mounts);
  for (const mp of elsewhere(rec, mounts).reverse()) await forceUnmount(guest, mp);
}
