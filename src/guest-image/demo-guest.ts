// The demo guest: a Debian kernel and a small initramfs made from Debian packages, cached by the
// hash of its recipe. A cache hit touches no network and runs no program: it only stats three files.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { HotmountError } from "../core/errors.ts";
import { BUILD_WORK_PREFIX, DOWNLOAD_WORK_PREFIX, debCacheDir, demoBuildPaths, demoCacheDir, demoImagePaths, type DemoImagePaths } from "../core/paths.ts";
import type { GuestArch } from "./arch.ts";
import { buildGuest } from "./build.ts";
import { filesComplete, publishImage } from "./publish.ts";
import { recipeKey } from "./recipe.ts";

export interface DemoGuestOptions {
  /** Build progress, one line at a time (nothing is reported on a cache hit). */
  onProgress?: (line: string) => void;
  /** Rebuild even when the cache has this recipe's image. */
  force?: boolean;
  /** The guest's architecture (default x86_64); each has its own recipe key and cached image. */
  arch?: GuestArch;
}

export interface DemoGuest {
  kernel: string;
  initrd: string;
  /** The recipe hash: the image's directory name under demoCacheDir(). */
  key: string;
  /** False on a cache hit. */
  built: boolean;
  seconds: number;
}

/** Work directories older than this belong to a build that died; a live build takes seconds. */
const STALE_MS = 60 * 60 * 1000;

function complete(files: DemoImagePaths): boolean {
  return filesComplete([files.kernel, files.initrd, files.manifest]);
}

function removeStaleWorkDirs(dir: string, prefix: string): void {
  for (const name of existsSync(dir) ? readdirSync(dir) : []) {
    if (!name.startsWith(prefix)) continue;
    try {
      if (Date.now() - statSync(join(dir, name)).mtimeMs > STALE_MS) rmSync(join(dir, name), { recursive: true, force: true });
    } catch {
      /* another process removed it */
    }
  }
}

export async function ensureDemoGuest(opts: DemoGuestOptions = {}): Promise<DemoGuest> {
  const t0 = performance.now();
  const arch = opts.arch ?? "x86_64";
  const key = recipeKey(arch);
  const files = demoImagePaths(key);
  const seconds = () => Math.round(performance.now() - t0) / 1000;
  if (!opts.force && complete(files)) return { kernel: files.kernel, initrd: files.initrd, key, built: false, seconds: seconds() };

  const say = opts.onProgress ?? (() => {});
  const cache = demoCacheDir();
  mkdirSync(cache, { recursive: true });
  removeStaleWorkDirs(cache, BUILD_WORK_PREFIX);
  removeStaleWorkDirs(debCacheDir(), DOWNLOAD_WORK_PREFIX);
  // The work directory sits next to the final one so publishing is a rename on one filesystem.
  const work = mkdtempSync(join(cache, BUILD_WORK_PREFIX));
  try {
    await buildGuest(work, key, debCacheDir(), say, arch);
    publishImage(demoBuildPaths(work).out, files.dir, () => complete(files), work, !!opts.force, say);
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
