// On-disk names of the cached Debian guest images (under core/paths.ts's cacheHome()); the
// per-instance overlay and seed are in core/paths.ts with the instance's other files.
import { join } from "node:path";
import { cacheHome } from "../../core/paths.ts";

/** One directory per image key; work directories of running builds start with ".build-". */
export function debianCacheDir(): string {
  return join(cacheHome(), "debian");
}

/** debootstrap's --cache-dir: the .deb files, reused by every rebuild. */
export function debootstrapDebsDir(): string {
  return join(cacheHome(), "debootstrap-debs");
}

export interface DebianImageFiles {
  dir: string;
  /** The root filesystem (ext4 on the whole disk, no partition table), qcow2. */
  disk: string;
  kernel: string;
  initrd: string;
  manifest: string;
}

export function debianImageFiles(key: string): DebianImageFiles {
  const dir = join(debianCacheDir(), key);
  return { dir, disk: join(dir, "disk.qcow2"), kernel: join(dir, "vmlinuz"), initrd: join(dir, "initrd.img"), manifest: join(dir, "manifest.json") };
}
