// On-disk names of the Debian guest: the cached images (under core/paths.ts's cacheHome()) and
// the per-instance disk overlay and cloud-init seed (in the instance's directory).
import { join } from "node:path";
import { cacheHome, instancePaths } from "../../core/paths.ts";

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

/** What a disk-image instance keeps next to its instance.json. */
export function imageInstanceFiles(name: string): { overlay: string; seed: string; seedDir: string } {
  const dir = instancePaths(name).dir;
  return { overlay: join(dir, "disk.qcow2"), seed: join(dir, "seed.iso"), seedDir: join(dir, "seed") };
}
