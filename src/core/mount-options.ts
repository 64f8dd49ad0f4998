// The guest-side mount command of every transport, in one place, with the reasons for each option.
import type { Transport } from "../agent/api.ts";

/** 9p: msize is the largest request; Linux caps it at 512000 for virtio, and bigger is faster. */
export const NINEP_MSIZE = 512000;

export interface GuestMountSpec {
  type: Transport;
  /** Device tag (virtiofs, 9p). */
  tag: string;
  mountPoint: string;
  writable: boolean;
}

/** argv for the guest's mount(8) of a device transport (reverse-sshfs runs sshfs instead). */
export function guestMountArgv(s: GuestMountSpec): string[] {
  switch (s.type) {
    case "virtiofs":
      // Cache policy is virtiofsd's (cache=auto): close-to-open consistency with the host.
      return ["mount", "-t", "virtiofs", "-o", s.writable ? "rw" : "ro", "--", s.tag, s.mountPoint];
    case "9p":
      // cache=none (the default): the host may change files under us; 9p2000.L for POSIX
      // semantics; msize as large as virtio allows (under TCG it reads ~6x faster than 8 KiB).
      return ["mount", "-t", "9p", "-o", `trans=virtio,version=9p2000.L,msize=${NINEP_MSIZE},${s.writable ? "rw" : "ro"}`, "--", s.tag, s.mountPoint];
    case "reverse-sshfs":
      throw new Error("reverse-sshfs is mounted by sshfs, not mount(8)");
  }
}

/**
 * sshfs in the guest, passive mode (stdin/stdout carry SFTP to the host's sftp-server).
 * idmap=none: the guest sees the host's uids as they are (see docs/ownership.md).
 */
export function reverseSshfsArgv(hostPath: string, mountPoint: string, writable: boolean): string[] {
  const opts = ["passive", "idmap=none", "allow_other", "default_permissions", "dcache_timeout=1", writable ? "rw" : "ro"];
  // "host:path" with an empty host; the path is the host folder (sftp-server also starts there).
  return ["sshfs", "-f", "-o", opts.join(","), `:${hostPath}`, mountPoint];
}

/** The guest's fs type in /proc/mounts for each transport. */
export function procMountsType(t: Transport): string {
  return t === "virtiofs" ? "virtiofs" : t === "9p" ? "9p" : "fuse.sshfs";
}
