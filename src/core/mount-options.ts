// The mount options of every transport, in one place, with the reasons for each (the long form,
// with measurements, is docs/transports.md). The virtiofsd flags live with virtiofsd
// (drivers/qemu/virtiofsd.ts) and the reserved 9p fsdevs with the QEMU argv (drivers/qemu/argv-build.ts):
// those are host processes' command lines, not guest mount options.
import type { Transport } from "./model.ts";

/** 9p: msize is the largest request; Linux caps it at 512000 for virtio, and bigger is faster. */
export const NINEP_MSIZE = 512000;

/**
 * sshfs's own caches (attributes, names, symlink targets) live this many seconds. Its default,
 * 20 s, hides host edits from the guest for that long (a file grown on the host still reads
 * short); 1 s matches the kernel's FUSE attribute timeout and virtiofs cache=auto.
 */
export const SSHFS_CACHE_SECONDS = 1;

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
      return ["mount", "-t", "9p", "-o", ninePMountOptions(s.writable), "--", s.tag, s.mountPoint];
    case "reverse-sshfs":
      throw new Error("reverse-sshfs is mounted by sshfs, not mount(8)");
  }
}

/**
 * 9p: virtio transport; 9p2000.L for POSIX semantics (owners, modes, symlinks, locks); msize as
 * large as virtio allows (under TCG it reads ~6x faster than 8 KiB); cache=none (the kernel's
 * default, spelled out) so host edits show at once and large reads bypass the guest page cache,
 * the bottleneck under TCG (cache=loose reads 6x slower and writes 20x slower there).
 * ro here is only the guest's view: QEMU enforces read-only through the fsdev (readonly=on).
 */
export function ninePMountOptions(writable: boolean): string {
  return ["trans=virtio", "version=9p2000.L", `msize=${NINEP_MSIZE}`, "cache=none", writable ? "rw" : "ro"].join(",");
}

/** The guest's login user when it is not root: shares are mapped to it (docs/ownership.md). */
export interface GuestOwner {
  uid: number;
  gid: number;
}

/**
 * Ownership for a non-root guest user. Every file sftp-server creates belongs to the host user
 * it runs as (the invoking user), whoever asked in the guest; libfuse's uid=/gid= make every
 * file *appear* owned by the guest user, so the guest kernel's permission checks
 * (default_permissions) let that user use what the host user may. sshfs's idmap=user cannot
 * do this: it maps to the user sshfs runs as, which is root (sudo). Host permissions still
 * apply on the host side: sftp-server refuses what the host user may not do.
 */
export function sshfsOwnerOptions(owner?: GuestOwner): string[] {
  if (!owner) return [];
  if (!Number.isInteger(owner.uid) || !Number.isInteger(owner.gid) || owner.uid < 0 || owner.gid < 0)
    throw new Error(`bad guest owner ${owner.uid}:${owner.gid}`);
  return [`uid=${owner.uid}`, `gid=${owner.gid}`];
}

/**
 * sshfs in the guest, passive mode (stdin/stdout carry SFTP to the host's sftp-server):
 * - idmap=none: the guest sees the host's uids as they are, like virtiofs and 9p; for a
 *   non-root guest user, uid=/gid= show every file as that user's (sshfsOwnerOptions);
 * - allow_other + default_permissions: every guest user sees the mount, and the guest kernel
 *   checks modes against those uids (without default_permissions any guest user could do all
 *   that the host sftp-server's user can);
 * - dcache_timeout: see SSHFS_CACHE_SECONDS;
 * - ro is only the guest's view: sftp-server -R refuses every write on the host.
 */
export function reverseSshfsArgv(hostPath: string, mountPoint: string, writable: boolean, owner?: GuestOwner): string[] {
  const opts = [
    "passive",
    "idmap=none",
    ...sshfsOwnerOptions(owner),
    "allow_other",
    "default_permissions",
    `dcache_timeout=${SSHFS_CACHE_SECONDS}`,
    writable ? "rw" : "ro",
  ];
  // "host:path" with an empty host; the path is the host folder (sftp-server also starts there).
  // sshfs splits at the first ':' only and escapes commas itself when it builds fsname.
  return ["sshfs", "-f", "-o", opts.join(","), `:${hostPath}`, mountPoint];
}

/**
 * The host's OpenSSH sftp-server: -e logs to stderr (our per-mount log), -R makes it refuse every
 * write, -d only sets the starting folder: it is not a chroot (the agent confines it: see
 * src/agent/transports/sftp-jail.ts). sftp-server expands %d/%u in -d and exits on any other
 * %-token, so a literal % is doubled.
 */
export function sftpServerArgs(hostPath: string, writable: boolean): string[] {
  return ["-e", ...(writable ? [] : ["-R"]), "-d", hostPath.replaceAll("%", "%%")];
}
