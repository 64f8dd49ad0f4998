// Publishing a finished guest image (demo initramfs or Debian disk) into its cache directory.
import { existsSync, renameSync, statSync } from "node:fs";
import { join } from "node:path";

/** True when every file exists and is non-empty: a half-written image never counts. */
export function filesComplete(files: readonly string[]): boolean {
  return files.every((f) => existsSync(f) && statSync(f).size > 0);
}

/**
 * Moves a finished image into place with one rename. Two builds of the same recipe may race:
 * the loser finds the directory taken by a complete image and keeps that one (same recipe, same
 * content). With `force`, the old image is moved aside first; a reader in that instant sees a miss.
 */
export function publishImage(out: string, dir: string, complete: () => boolean, work: string, force: boolean, say: (l: string) => void): void {
  if (existsSync(dir) && (force || !complete())) {
    try {
      renameSync(dir, join(work, "old"));
    } catch {
      /* a concurrent build moved it already */
    }
  }
  try {
    renameSync(out, dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if ((code === "ENOTEMPTY" || code === "EEXIST") && complete()) return say("another build published the same image first; using it");
    throw e;
  }
}
