// Validation of everything a user names: host folders, guest mount points, instance names, tags.
import { realpathSync, statSync } from "node:fs";
import { posix, resolve } from "node:path";
import { HotmountError } from "./errors.ts";
import { hotmountHome } from "./paths.ts";

/** Device tag limits in bytes: virtio-fs config space holds 36, QEMU's 9p mount_tag 31. Our ids ("hm" + 8 hex) fit both. */
export const TAG_MAX = { virtiofs: 36, "9p": 31 } as const;

// C0, DEL and C1 controls: never in a sane name, and a terminal may act on them.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

const GUEST_FORBIDDEN_EXACT = new Set([
  "/",
  "/bin",
  "/boot",
  "/dev",
  "/etc",
  "/home",
  "/lib",
  "/lib32",
  "/lib64",
  "/libx32",
  "/proc",
  "/root",
  "/run",
  "/sbin",
  "/sys",
  "/tmp",
  "/usr",
  "/var",
]);
const GUEST_FORBIDDEN_TREES = ["/proc/", "/sys/", "/dev/", "/boot/", "/etc/", "/bin/", "/sbin/", "/lib/", "/lib64/", "/usr/"];
const HOST_FORBIDDEN_EXACT = new Set(["/", "/proc", "/sys", "/dev", "/boot", "/etc", "/run", "/usr", "/bin", "/sbin", "/lib", "/lib64", "/var"]);
const HOST_FORBIDDEN_TREES = ["/proc/", "/sys/", "/dev/"];

/** Linux: a path is at most 4095 bytes plus NUL, a name 255 bytes. */
export const PATH_MAX_BYTES = 4095;
export const NAME_MAX_BYTES = 255;

function bad(message: string, hint: string, details?: Record<string, unknown>): HotmountError {
  return new HotmountError("INVALID_ARGUMENT", message, { hint, details });
}

/** What every path shares: not empty, valid Unicode, no control characters, Linux's limits. */
function checkPathText(p: unknown, which: "host" | "guest", example: string): asserts p is string {
  if (typeof p !== "string" || p.length === 0) throw bad(`the ${which} path is empty`, example);
  // A lone UTF-16 surrogate (JSON "\ud800") has no UTF-8 form: it would become U+FFFD on disk.
  if (!p.isWellFormed()) throw bad(`the ${which} path is not valid Unicode (a lone surrogate)`, "Send paths as valid UTF-8 text.");
  if (CONTROL.test(p))
    throw bad(`the ${which} path contains a control character (NUL, newline, tab, ...)`, `Rename the folder or pick another one; ${example}`);
  const bytes = Buffer.byteLength(p);
  if (bytes > PATH_MAX_BYTES) throw bad(`the ${which} path is ${bytes} bytes long; Linux allows ${PATH_MAX_BYTES}`, "Use a shorter path.");
  const long = p.split("/").find((c) => Buffer.byteLength(c) > NAME_MAX_BYTES);
  if (long !== undefined)
    throw bad(`a name in the ${which} path is ${Buffer.byteLength(long)} bytes long; Linux allows ${NAME_MAX_BYTES}`, "Use shorter folder names.");
}

/** Resolves a host folder: it must exist, be a directory, and not be a system tree. */
export function resolveHostPath(p: string, cwd = process.cwd()): string {
  checkPathText(p, "host", "Name an existing host folder.");
  let real: string;
  try {
    real = realpathSync(resolve(cwd, p));
  } catch {
    // Names that are not UTF-8 reach us (argv, JSON) with U+FFFD in place of the bad bytes.
    if (p.includes("\uFFFD"))
      throw bad(`the host folder ${p} does not exist (is its name valid UTF-8?)`, "hotmount takes UTF-8 paths: rename the folder to a UTF-8 name.", {
        hostPath: p,
      });
    throw bad(`the host folder ${p} does not exist`, "Create it first, or check the spelling.", { hostPath: p });
  }
  if (!statSync(real).isDirectory()) throw bad(`the host path ${real} is not a folder`, "hotmount shares folders; name the folder that holds the file.");
  if (HOST_FORBIDDEN_EXACT.has(real) || HOST_FORBIDDEN_TREES.some((t) => real.startsWith(t))) {
    throw bad(`refusing to share the host system folder ${real}`, "Share a project or data folder instead.");
  }
  const home = safeRealpath(hotmountHome());
  if (home && (real === home || real.startsWith(home + "/") || home.startsWith(real + "/"))) {
    throw bad(`refusing to share ${real}: it contains hotmount's own state (SSH key, sockets)`, "Share a folder outside HOTMOUNT_HOME.");
  }
  return real;
}

function safeRealpath(p: string): string | null {
  try {
    return realpathSync(p);
  } catch {
    return null;
  }
}

/** A guest path in the form the registry keeps: absolute, normalized, no trailing slash. */
export function canonicalGuestPath(p: string): string {
  checkPathText(p, "guest", "Give an absolute guest path such as /mnt/data.");
  if (!p.startsWith("/")) throw bad(`the guest path ${p} is not absolute`, "Guest paths start with /, e.g. /mnt/data.");
  // U+FFFD is what bytes that were not UTF-8 (argv, a lossy client) became: not the path meant.
  if (p.includes("\uFFFD")) throw bad(`the guest path ${p} contains U+FFFD (was it valid UTF-8?)`, "Give the guest path as UTF-8 text.");
  return posix.normalize(p).replace(/\/+$/, "") || "/";
}

/** The registry key for a guest path named in a lookup (remove): normalized, never refused. */
export function guestPathKey(p: string): string {
  return posix.normalize(p).replace(/\/+$/, "") || "/";
}

/** Normalizes a guest mount point: absolute, no control characters, not / or a system folder. */
export function normalizeGuestPath(p: string): string {
  const n = canonicalGuestPath(p);
  if (GUEST_FORBIDDEN_EXACT.has(n) || GUEST_FORBIDDEN_TREES.some((t) => n.startsWith(t))) {
    throw bad(`refusing to mount over the guest system folder ${n}`, "Pick a path such as /mnt/NAME or one under a home directory.", { mountPoint: n });
  }
  return n;
}

/** Device, chardev and backend ids hotmount made (all others belong to the VM's own config). */
export function isMountId(id: string): boolean {
  return /^hm[0-9a-f]{8}$/.test(id);
}

/** Refuses a tag longer than the device allows, before any step is taken, naming the limit (the hypervisor would refuse the device less clearly). */
export function checkTag(tag: string, type: keyof typeof TAG_MAX): void {
  const max = TAG_MAX[type];
  if (Buffer.byteLength(tag) > max) throw bad(`the tag ${tag} is longer than ${max} bytes`, `Device tags are at most ${max} bytes.`);
}
