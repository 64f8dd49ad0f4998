// On-disk names of the guest build, all under core/paths.ts's cacheHome().
import { join } from "node:path";
import { cacheHome, guestCacheDir } from "../core/paths.ts";

/** Downloaded .deb files, shared by every build (file names carry name, version and arch). */
export function debCacheDir(): string {
  return join(cacheHome(), "debs");
}

/** One finished image: vmlinuz, initramfs.img, manifest.json. */
export function guestImageDir(key: string): string {
  return join(guestCacheDir(), key);
}

export function guestImageFiles(key: string): { dir: string; kernel: string; initrd: string; manifest: string } {
  const dir = guestImageDir(key);
  return { dir, kernel: join(dir, "vmlinuz"), initrd: join(dir, "initramfs.img"), manifest: join(dir, "manifest.json") };
}
