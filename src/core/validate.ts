// Validation of everything a user names: host folders, guest mount points, instance names, tags.
import { randomBytes } from "node:crypto";
import { realpathSync, statSync } from "node:fs";
import { posix, resolve } from "node:path";
import { HotmountError } from "./errors.ts";
import { hotmountHome } from "./paths.ts";

/** virtiofs tags may be 36 bytes; 9p mount_tags 31. Our ids ("hm" + 8 hex) fit both. */
export const VIRTIOFS_TAG_MAX = 36;

const CONTROL = /[\u0000-\u001f\u007f]/;

const GUEST_FORBIDDEN_EXACT = new Set(["/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/root", "/run", "/sbin", "/sys", "/tmp", "/usr", "/var"]);
const GUEST_FORBIDDEN_TREES = ["/proc/", "/sys/", "/dev/", "/boot/", "/etc/", "/bin/", "/sbin/", "/lib/", "/lib64/", "/usr/"];
const HOST_FORBIDDEN_EXACT = new Set(["/", "/proc", "/sys", "/dev", "/boot", "/etc", "/run", "/usr", "/bin", "/sbin", "/lib", "/lib64", "/var"]);
const HOST_FORBIDDEN_TREES = ["/proc/", "/sys/", "/dev/"];

function bad(message: string, hint: string, details?: Record<string, unknown>): HotmountError {
  return new HotmountError("INVALID_ARGUMENT", message, { hint, details });
}

/** Resolves a host folder: it must exist, be a directory, and not be a system tree. */
export function resolveHostPath(p: string, cwd = process.cwd()): string {
  if (typeof p !== "string" || p.length === 0) throw bad("the host path is empty", "Name an existing host folder.");
  if (p.length > 4096) throw bad("the host path is longer than 4096 bytes", "Use a shorter path.");
  if (CONTROL.test(p)) throw bad("the host path contains a control character (NUL, newline, ...)", "Rename the folder or pick another one.");
  let real: string;
  try {
    real = realpathSync(resolve(cwd, p));
  } catch {
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

/** Normalizes a guest mount point: absolute, no control characters, not / or a system folder. */
export function normalizeGuestPath(p: string): string {
  if (typeof p !== "string" || p.length === 0) throw bad("the guest path is empty", "Give an absolute guest path such as /mnt/data.");
  if (p.length > 4096) throw bad("the guest path is longer than 4096 bytes", "Use a shorter path.");
  if (CONTROL.test(p)) throw bad("the guest path contains a control character (NUL, newline, ...)", "Pick a plain path such as /mnt/data.");
  if (!p.startsWith("/")) throw bad(`the guest path ${p} is not absolute`, "Guest paths start with /, e.g. /mnt/data.");
  const n = posix.normalize(p).replace(/\/+$/, "") || "/";
  if (GUEST_FORBIDDEN_EXACT.has(n) || GUEST_FORBIDDEN_TREES.some((t) => n.startsWith(t))) {
    throw bad(`refusing to mount over the guest system folder ${n}`, "Pick a path such as /mnt/NAME or one under a home directory.", { mountPoint: n });
  }
  return n;
}

export function newMountId(): string {
  return `hm${randomBytes(4).toString("hex")}`;
}

/** Device, chardev and backend ids hotmount made (all others belong to the VM's own config). */
export function isMountId(id: string): boolean {
  return /^hm[0-9a-f]{8}$/.test(id);
}

export function checkTag(tag: string, max: number): void {
  if (Buffer.byteLength(tag) > max) throw bad(`the tag ${tag} is longer than ${max} bytes`, `Device tags are at most ${max} bytes.`);
}
