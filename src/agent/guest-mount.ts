// The guest side of a mount, as argv lists (over qemu-guest-agent, or SSH): check, mkdir, mount
// with a bounded retry (PCI enumeration in the guest is asynchronous), and unmount with busy detection.
import { HotmountError } from "../core/errors.ts";
import type { GuestCommands } from "../guest-exec/index.ts";
import { sleep } from "../util/process.ts";

const MOUNT_RETRY_MS = 6_000;

/**
 * A shell function for the one-command scripts: `run NAME ARGS…` runs NAME found on $PATH as a
 * guest-exec of NAME would (execvp), not a shell's own built-in version of it (busybox's sh
 * prefers its applets), so a script and a single command reach the same program.
 */
export const FROM_PATH =
  'run() { c=$1; shift; o=$IFS; IFS=:; for d in $PATH; do if [ -x "$d/$c" ]; then IFS=$o; "$d/$c" "$@"; return; fi; done; IFS=$o; "$c" "$@"; }; ';

export interface GuestMountEntry {
  source: string;
  mountPoint: string;
  fstype: string;
}

/** /proc/mounts escapes space, tab, newline and backslash as octal. */
function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(Number.parseInt(o, 8)));
}

export async function guestMounts(guest: GuestCommands): Promise<GuestMountEntry[]> {
  return parseMounts(await guest.run(["cat", "/proc/mounts"], { root: false, timeoutMs: 10_000 }));
}

/** The lines of /proc/mounts. */
export function parseMounts(text: string): GuestMountEntry[] {
  return text
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => {
      const [source = "", mp = "", fstype = ""] = l.split(" ");
      return { source: unescapeMountField(source), mountPoint: unescapeMountField(mp), fstype };
    });
}

// One guest round trip for the checks before a mount (each costs a process start in the guest,
// tens of ms under TCG). Constant script, the path is "$1" only. Prints the deepest part of the
// path that exists, then where it really leads (empty when readlink fails), then what the path
// itself is (dir, other, none), then the guest's mount table.
const PROBE_SCRIPT =
  'p=$1; while [ ! -e "$p" ] && [ ! -L "$p" ]; do p=$(dirname -- "$p"); done; printf "%s\\n" "$p"; ' +
  'r=$(readlink -f -- "$p") || r=; printf "%s\\n" "$r"; ' +
  'if [ -d "$1" ]; then echo dir; elif [ -e "$1" ]; then echo other; else echo none; fi; cat /proc/mounts';

/**
 * Checks the mount point and says whether it must be created; `create` then makes it. Split so
 * the journal records "we made it" before the folder exists (a crash in between leaves nothing).
 * A guest symlink on the way (/mnt/x -> /etc) would put the mount, and mkdir -p, somewhere else
 * than the registry says, past the system-folder check: it is refused with the real place named.
 */
export async function checkMountPoint(guest: GuestCommands, mountPoint: string): Promise<boolean> {
  const r = await guest.exec(["sh", "-c", PROBE_SCRIPT, "hotmount-probe", mountPoint], { timeoutMs: 10_000 });
  const [existing = "", real = "", kind = "", ...table] = r.stdout.split("\n");
  if (r.code !== 0 || !["dir", "other", "none"].includes(kind)) {
    throw new HotmountError("GUEST_COMMAND_FAILED", `the guest could not check ${mountPoint}: ${r.stderr.trim() || `exit ${r.code}`}`, {
      details: { mountPoint, code: r.code, stderr: r.stderr },
    });
  }
  if (parseMounts(table.join("\n")).some((m) => m.mountPoint === mountPoint)) {
    throw new HotmountError("MOUNT_CONFLICT", `${mountPoint} is already a mount point in the guest`, {
      hint: "Pick another guest path, or unmount what is there first.",
    });
  }
  if (existing !== real) {
    const there = real ? `${real}${mountPoint.slice(existing.length)}`.replace(/^\/\//, "/") : null;
    throw new HotmountError("MOUNT_CONFLICT", `the guest path ${mountPoint} goes through a symlink in the guest (${existing} leads to ${real || "nowhere"})`, {
      hint: there ? `Name the real guest folder (${there}), or remove the link in the guest.` : "Name the real guest folder, or remove the link in the guest.",
      details: { mountPoint, symlink: existing, target: real },
    });
  }
  if (kind === "other")
    throw new HotmountError("MOUNT_CONFLICT", `${mountPoint} exists in the guest and is not a folder`, { hint: "Pick another guest path." });
  return kind === "none";
}

export async function createMountPoint(guest: GuestCommands, mountPoint: string): Promise<void> {
  await guest.run(["mkdir", "-p", "--", mountPoint], { timeoutMs: 10_000 });
}

export async function removeCreatedDir(guest: GuestCommands, mountPoint: string): Promise<void> {
  // rmdir only: never delete anything that is not an empty folder we made.
  await guest.exec(["rmdir", "--", mountPoint], { timeoutMs: 10_000 }).catch(() => {});
}

// One guest round trip for the usual mount: the device shows up in the guest a moment after the
// hot-plug (its PCI enumeration is asynchronous), so the guest itself tries the mount again every
// 50 ms, up to MOUNT_TRIES times, instead of a round trip per try. With "$1" = 1 it makes the
// mount point first ("$2"; exit 3 when it cannot). Constant script: the paths and the mount argv
// are arguments. Exits 0, 3, or 32 with the last mount error on stderr.
const MOUNT_TRIES = 40;
const MOUNT_SCRIPT =
  FROM_PATH +
  'mk=$1; mp=$2; shift 2; if [ "$mk" = 1 ]; then run mkdir -p -- "$mp" || exit 3; fi; n=0; ' +
  `until out=$(run "$@" 2>&1); do n=$((n + 1)); if [ "$n" -ge ${MOUNT_TRIES} ]; then printf "%s\\n" "$out" >&2; exit 32; fi; ` +
  "sleep 0.05 2>/dev/null || sleep 1; done";

/**
 * Mounts with `argv` (mount(8)), retried while the guest finds the device (bounded by
 * MOUNT_RETRY_MS); with `mkdir`, makes the mount point in the same guest command.
 */
export async function mountWithRetry(guest: GuestCommands, argv: string[], mountPoint: string, opts: { mkdir?: boolean } = {}): Promise<void> {
  const end = Date.now() + MOUNT_RETRY_MS;
  let last = "";
  for (let delay = 50; ; delay = Math.min(500, delay * 2)) {
    const r = await guest.exec(["sh", "-c", MOUNT_SCRIPT, "hotmount-mount", opts.mkdir ? "1" : "0", mountPoint, ...argv], { timeoutMs: 15_000 });
    if (r.code === 0) return;
    last = r.stderr.trim() || `exit ${r.code}`;
    if (r.code === 3 && opts.mkdir) {
      throw new HotmountError("GUEST_COMMAND_FAILED", `the guest could not create the folder ${mountPoint}: ${last}`, {
        hint: "Is that part of the guest's file system read-only, or not root's to write? Pick another guest path.",
      });
    }
    if (Date.now() + delay >= end) break;
    await sleep(delay);
  }
  throw new HotmountError("GUEST_COMMAND_FAILED", `the guest could not mount ${mountPoint}: ${last}`, {
    hint: "Check that the guest kernel has the filesystem (virtiofs/9p modules) and see `hotmount vm logs`.",
  });
}

/** Processes holding the mount (busybox/psmisc fuser), as "pid comm" strings. */
export async function holders(guest: GuestCommands, mountPoint: string): Promise<string[]> {
  const r = await guest.exec(["fuser", "-m", mountPoint], { timeoutMs: 10_000 });
  // PIDs go to stdout; the path and access letters to stderr (a path like /mnt/2024 is no pid).
  const pids = r.stdout.match(/\b\d+\b/g) ?? [];
  const out: string[] = [];
  for (const pid of pids.slice(0, 8)) {
    const c = await guest.exec(["cat", `/proc/${pid}/comm`], { timeoutMs: 5000 });
    out.push(`${pid} ${c.stdout.trim() || "?"}`);
  }
  return out;
}

export type UnmountResult = { ok: true } | { ok: false; busy: boolean; message: string };

export async function unmount(guest: GuestCommands, mountPoint: string, opts: { lazy: boolean; timeoutMs: number }): Promise<UnmountResult> {
  const argv = opts.lazy ? ["umount", "-l", "--", mountPoint] : ["umount", "--", mountPoint];
  let r;
  try {
    r = await guest.exec(argv, { timeoutMs: opts.timeoutMs });
  } catch (e) {
    return { ok: false, busy: false, message: e instanceof Error ? e.message : String(e) };
  }
  if (r.code === 0) return { ok: true };
  const msg = r.stderr.trim();
  if (/not mounted|no mount point|Invalid argument/i.test(msg)) {
    const still = (await guestMounts(guest)).some((m) => m.mountPoint === mountPoint);
    if (!still) return { ok: true };
  }
  return { ok: false, busy: /busy/i.test(msg), message: msg || `exit ${r.code}` };
}
