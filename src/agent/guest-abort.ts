// What the guest itself can do when a mount's backend has died: abort the mount's FUSE connection,
// so that every process waiting on it (and every later one) gets an error instead of hanging.
// Measured on the demo guest (Linux 6.1): a FUSE mount (sshfs) has a control entry named after its
// device minor, /sys/fs/fuse/connections/NN/abort, and writing to it ends all its requests at once.
// A virtiofs mount has none: virtio_fs.c sets no_control and no_force_umount (5.4 up to 6.x), so
// neither fusectl nor `umount -f` reach it; for virtiofs the host answers the dead device's
// requests instead (drivers/qemu/vring-reaper.ts) and this reports that it could do nothing.
// The mount is never touched (no stat, no path lookup under it): its number comes from
// /proc/self/mountinfo, and commands are argv lists whose paths are only ever "$1".
import type { GuestCommands } from "../guest-exec/index.ts";

const CMD_MS = 5000;
const FUSECTL = "/sys/fs/fuse/connections";
// Constant script: the control file's path reaches it only as "$1".
const WRITE_ABORT = 'echo 1 > "$1"';

export interface MountInfoEntry {
  /** "major:minor" of the mount's superblock; for FUSE the minor names its control entry. */
  device: string;
  mountPoint: string;
  fstype: string;
  source: string;
}

export interface AbortResult {
  mountPoint: string;
  fstype: string | null;
  device: string | null;
  aborted: boolean;
  how: "fusectl" | "none";
  detail: string;
}

const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(Number.parseInt(o, 8)));

/** /proc/self/mountinfo rows: "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [TAGS...] - FSTYPE SOURCE SUPEROPTS". */
export function parseMountInfo(text: string): MountInfoEntry[] {
  const out: MountInfoEntry[] = [];
  for (const line of text.split("\n")) {
    const f = line.split(" ");
    const dash = f.indexOf("-", 6);
    if (f.length < 10 || dash < 0) continue;
    out.push({ device: f[2]!, mountPoint: unescape(f[4]!), fstype: f[dash + 1] ?? "", source: unescape(f[dash + 2] ?? "") });
  }
  return out;
}

export async function guestMountInfo(guest: GuestCommands): Promise<MountInfoEntry[]> {
  return parseMountInfo(await guest.run(["cat", "/proc/self/mountinfo"], { root: false, timeoutMs: CMD_MS }));
}

/**
 * Aborts the connection of the mount at `mountPoint` when the guest kernel offers a way (FUSE:
 * fusectl, mounted first when it is not), and otherwise says why not. Bounded; never throws for
 * a guest that cannot do it, only when the guest does not answer at all.
 */
export async function abortDeadMount(guest: GuestCommands, mountPoint: string): Promise<AbortResult> {
  const all = await guestMountInfo(guest);
  const m = all.filter((e) => e.mountPoint === mountPoint).at(-1);
  const base = { mountPoint, fstype: m?.fstype ?? null, device: m?.device ?? null, aborted: false, how: "none" as const };
  if (!m) return { ...base, detail: "not mounted in the guest" };
  if (m.fstype === "virtiofs") {
    return { ...base, detail: "virtiofs has no guest-side abort (no fusectl entry; umount -f is ignored): the host answers the dead device's requests" };
  }
  if (m.fstype !== "fuse" && !m.fstype.startsWith("fuse.")) return { ...base, detail: `${m.fstype} has no connection to abort` };
  const minor = m.device.split(":")[1] ?? "";
  if (!/^\d+$/.test(minor)) return { ...base, detail: `unexpected device number ${m.device}` };
  if (!all.some((e) => e.fstype === "fusectl")) {
    const r = await guest.exec(["mount", "-t", "fusectl", "fusectl", FUSECTL], { timeoutMs: CMD_MS });
    if (r.code !== 0) return { ...base, detail: `cannot mount fusectl: ${r.stderr.trim() || `exit ${r.code}`}` };
  }
  const r = await guest.exec(["sh", "-c", WRITE_ABORT, "hotmount-abort", `${FUSECTL}/${minor}/abort`], { timeoutMs: CMD_MS });
  if (r.code !== 0) return { ...base, detail: `the abort was refused: ${r.stderr.trim() || `exit ${r.code}`}` };
  return { ...base, aborted: true, how: "fusectl", detail: `aborted FUSE connection ${minor}` };
}

/**
 * Lazily unmounts a dead mount and any other mount of the same source and type (bind mounts),
 * deepest first: nothing waits on the dead filesystem, and processes still inside keep their
 * (failing) files while the path is free again. Bounded; throws when the guest keeps the path.
 */
export async function detachDeadMount(guest: GuestCommands, mountPoint: string): Promise<void> {
  const all = await guestMountInfo(guest);
  const m = all.filter((e) => e.mountPoint === mountPoint).at(-1);
  if (!m) return;
  const same = all.filter((e) => e.source === m.source && e.fstype === m.fstype).map((e) => e.mountPoint);
  for (const mp of same.reverse()) await guest.exec(["umount", "-l", "--", mp], { timeoutMs: CMD_MS });
  const left = (await guestMountInfo(guest)).filter((e) => e.source === m.source && e.fstype === m.fstype);
  if (left.length) throw new Error(`the guest still has ${left.map((e) => e.mountPoint).join(", ")} mounted`);
}
