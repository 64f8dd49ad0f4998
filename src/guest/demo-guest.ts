// The demo guest: a Debian kernel and a small initramfs made from Debian packages, cached by the
// hash of its recipe. A cache hit touches no network and runs no program: it only stats three files.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { HotmountError } from "../core/errors.ts";
import { guestCacheDir } from "../core/paths.ts";
import { buildGuest } from "./build.ts";
import { debCacheDir, guestImageFiles } from "./paths.ts";
import { recipeKey } from "./recipe.ts";

export interface DemoGuestOptions {
  /** Build progress, one line at a time (nothing is reported on a cache hit). */
  onProgress?: (line: string) => void;
  /** Rebuild even when the cache has this recipe's image. */
  force?: boolean;
}

export interface DemoGuest {
  kernel: string;
  initrd: string;
  /** The recipe hash: the image's directory name under guestCacheDir(). */
  key: string;
  /** False on a cache hit. */
  built: boolean;
  seconds: number;
}

/** Work directories older than this belong to a build that died; a live build takes seconds. */
const STALE_MS = 60 * 60 * 1000;

function complete(files: ReturnType<typeof guestImageFiles>): boolean {
  return [files.kernel, files.initrd, files.manifest].every((f) => existsSync(f) && statSync(f).size > 0);
}

function removeStaleWorkDirs(dir: string, prefix: string): void {
  for (const name of existsSync(dir) ? readdirSync(dir) : []) {
    if (!name.startsWith(prefix)) continue;
    try {
      if (Date.now() - statSync(join(dir, name)).mtimeMs > STALE_MS) rmSync(join(dir, name), { recursive: true, force: true });
    } catch { /* another process removed it */ }
  }
}

export async function ensureDemoGuest(opts: DemoGuestOptions = {}): Promise<DemoGuest> {
  const t0 = performance.now();
  const key = recipeKey();
  const files = guestImageFiles(key);
  const seconds = () => Math.round(performance.now() - t0) / 1000;
  if (!opts.force && complete(files)) return { kernel: files.kernel, initrd: files.initrd, key, built: false, seconds: seconds() };

  const say = opts.onProgress ?? (() => {});
  const cache = guestCacheDir();
  mkdirSync(cache, { recursive: true });
  removeStaleWorkDirs(cache, ".build-");
  removeStaleWorkDirs(debCacheDir(), ".dl-");
  // The work directory sits next to the final one so publishing is a rename on one filesystem.
  const work = mkdtempSync(join(cache, ".build-"));
  try {
    await buildGuest(work, key, debCacheDir(), say);
    publish(join(work, "out"), files, work, !!opts.force, say);
  } catch (e) {
    if (e instanceof HotmountError) throw e;
    throw new HotmountError("INTERNAL", `building the demo guest failed: ${e instanceof Error ? e.message : String(e)}`, {
      cause: e,
      hint: "Run scripts/build-guest --force to see the build's progress.",
    });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return { kernel: files.kernel, initrd: files.initrd, key, built: true, seconds: seconds() };
}

/**
 * Moves a finished image into place with one rename. Two builds of the same recipe may race:
 * the loser finds the directory taken by a complete image and keeps that one (same recipe, same
 * content). With `force`, the old image is moved aside first; a reader in that instant sees a miss.
 */
function publish(out: string, files: ReturnType<typeof guestImageFiles>, work: string, force: boolean, say: (l: string) => void): void {
  if (existsSync(files.dir) && (force || !complete(files))) {
    try { renameSync(files.dir, join(work, "old")); } catch { /* a concurrent build moved it already */ }
  }
  try {
    renameSync(out, files.dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if ((code === "ENOTEMPTY" || code === "EEXIST") && complete(files)) {
      say("another build published the same image first; using it");
      return;
    }
    throw e;
  }
}
