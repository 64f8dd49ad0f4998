// The guest side of removing a mount, which must succeed before anything is unplugged: a device
// pulled from under a live superblock (or a bind mount of it) makes the guest wait forever.
import { HotmountError } from "../core/errors.ts";
import type { GuestCommands } from "../guest-exec/index.ts";
import { FROM_PATH, guestMounts, holders, parseMounts, unmount, type GuestMountEntry } from "./guest-mount.ts";
import type { MountRecord } from "./journal.ts";

export const UMOUNT_DEADLINE_MS = 15_000;
const OWN_HOLDER_RETRIES = 6;
/** Mounts stacked at one path that a removal takes away (see unmountStacked). */
const STACKED_MAX = 4;
/** `holders()` names a process "PID COMM"; the watch helper's COMM starts so (see watch/guest-helper.ts). */
const OWN_HOLDER = /^\d+ watch-helper-/;

// The usual remove in one guest command: refuse (print the table, change nothing) when the
// device is mounted more than once (a bind mount, or a mount stacked by a heal: unmountSlow
// decides), else sync this filesystem ("$3" = 1), unmount, take away the mount point we made
// ("$4" = 1), and print the table after. The tag is a mount id or a 9p/virtiofs tag: no
// characters a grep pattern would read. stdout: "shared" or "umount RC RMDIR", then /proc/mounts;
// stderr: umount's message.
const UNMOUNT_SCRIPT =
  FROM_PATH +
  'mp=$1; tag=$2; if [ -n "$tag" ] && [ "$(grep -c -e "^$tag [^ ]* virtiofs " -e "^$tag [^ ]* 9p " /proc/mounts)" -gt 1 ]; then ' +
  "echo shared; cat /proc/mounts; exit 0; fi; " +
  'if [ "$3" = 1 ]; then run sync -f -- "$mp" 2>/dev/null; fi; ' +
  'if out=$(run umount -- "$mp" 2>&1); then rc=0; else rc=$?; fi; d=0; ' +
  'if [ "$rc" = 0 ] && [ "$4" = 1 ] && run rmdir -- "$mp" 2>/dev/null; then d=1; fi; ' +
  'echo "umount $rc $d"; cat /proc/mounts; printf "%s" "$out" >&2';

/**
 * Unmounts `rec` in the guest, and for a device transport any other mount of the same device.
 * Throws MOUNT_BUSY (nothing changed; retry with force) or GUEST_COMMAND_FAILED (the mount may be
 * half gone; the device stays attached). With `force`, holders are killed and the unmount is lazy.
 * With `rmdir`, the usual case also removes the (empty) mount point; resolves true when it did.
 */
export async function unmountForRemove(guest: GuestCommands, rec: MountRecord, force: boolean, opts: { rmdir?: boolean } = {}): Promise<boolean> {
  if (force) {
    await unmountSlow(guest, rec, force);
    return false;
  }
  const device = rec.type !== "reverse-sshfs";
  const tag = device ? (rec.tag ?? rec.device?.tag ?? rec.id) : "";
  // The sync's and the unmount's deadlines back to back, as the step-by-step way has them: a sync
  // held up by a paused file server may still end in time for the unmount.
  const r = await guest
    .exec(["sh", "-c", UNMOUNT_SCRIPT, "hotmount-umount", rec.mountPoint, tag, device ? "1" : "0", opts.rmdir ? "1" : "0"], {
      timeoutMs: 2 * UMOUNT_DEADLINE_MS,
    })
    .catch((e: unknown) => {
      if (!(e instanceof HotmountError && e.code === "TIMEOUT")) return null;
      throw new HotmountError("GUEST_COMMAND_FAILED", `the guest could not unmount ${rec.mountPoint}: ${e.message}`, {
        hint: "The device stays attached so the guest does not hang. Retry, or use --force.",
      });
    });
  const [head = "", ...table] = r?.code === 0 ? r.stdout.split("\n") : [];
  const m = /^umount (\d+) ([01])$/.exec(head);
  const after = parseMounts(table.join("\n"));
  const still = after.some((x) => x.mountPoint === rec.mountPoint);
  // Unmounted, or there was nothing mounted there. Otherwise (a guest that could not run it, the
  // device mounted twice, a busy or failed unmount) the step by step way, which names holders,
  // waits out our own helper and retries.
  if (!m || (m[1] !== "0" && (still || !/not mounted|no mount point|Invalid argument/i.test(r!.stderr)))) {
    await unmountSlow(guest, rec, force);
    return false;
  }
  if (device) await unmountElsewhere(guest, rec, force, still ? await unmountStacked(guest, rec) : after);
  return m[2] === "1";
}

/** unmountForRemove step by step: one guest command per step, for the cases the script leaves. */
async function unmountSlow(guest: GuestCommands, rec: MountRecord, force: boolean): Promise<void> {
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
