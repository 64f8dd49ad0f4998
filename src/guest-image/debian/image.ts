// The Debian guest image, cached by the hash of its recipe. A cache hit runs no program and
// touches no network: it only stats four files.
import { mkdirSync, mkdtempSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { HotmountError } from "../../core/errors.ts";
import {
  BUILD_WORK_PREFIX,
  debianBuildLock,
  debianBuildPaths,
  debianCacheDir,
  debianImagePaths,
  type DebianImagePaths,
  debootstrapDebsDir,
} from "../../core/paths.ts";
import { withLock } from "../../util/lock.ts";
import { filesComplete, publishImage } from "../publish.ts";
import { buildDebianImage, removeWorkDir, requireBuildRoot } from "./build.ts";
import { debianRecipeKey } from "./recipe.ts";

export interface DebianImageOptions {
  onProgress?: (line: string) => void;
  /** Rebuild even when the cache has this recipe's image. */
  force?: boolean;
}

export interface DebianImage extends DebianImagePaths {
  key: string;
  built: boolean;
  seconds: number;
}

/** A work directory older than this belongs to a build that died (a build takes minutes). */
const STALE_MS = 3 * 60 * 60 * 1000;
/** How long a second caller waits for a running build (a loaded 2-core machine took 6 minutes). */
const BUILD_WAIT_MS = 30 * 60 * 1000;

function complete(f: DebianImagePaths): boolean {
  return filesComplete([f.disk, f.kernel, f.initrd, f.manifest]);
}

/** The cached image for the current recipe, or null (no build). */
export function cachedDebianImage(): DebianImage | null {
  const key = debianRecipeKey();
  const f = debianImagePaths(key);
  return complete(f) ? { ...f, key, built: false, seconds: 0 } : null;
}

export async function ensureDebianImage(opts: DebianImageOptions = {}): Promise<DebianImage> {
  const t0 = performance.now();
  const key = debianRecipeKey();
  const files = debianImagePaths(key);
  const seconds = () => Math.round(performance.now() - t0) / 1000;
  if (!opts.force && complete(files)) return { ...files, key, built: false, seconds: seconds() };

  requireBuildRoot();
  const say = opts.onProgress ?? (() => {});
  const cache = debianCacheDir();
  mkdirSync(cache, { recursive: true });
  // One build at a time: a second `vm start --image debian` waits, then finds the image.
  return withLock(
    debianBuildLock(),
    "building the Debian guest image",
    async () => {
      if (!opts.force && complete(files)) return { ...files, key, built: false, seconds: seconds() };
      await build(cache, key, files, !!opts.force, say);
      return { ...files, key, built: true, seconds: seconds() };
    },
    BUILD_WAIT_MS,
  );
}

async function build(cache: string, key: string, files: DebianImagePaths, force: boolean, say: (l: string) => void): Promise<void> {
  for (const n of readdirSync(cache)) {
    const p = join(cache, n);
    if (n.startsWith(BUILD_WORK_PREFIX) && Date.now() - statSync(p).mtimeMs > STALE_MS) await removeWorkDir(p).catch(() => {});
  }
  // Next to the final directory, so publishing is one rename on one filesystem.
  const work = mkdtempSync(join(cache, BUILD_WORK_PREFIX));
  try {
    await buildDebianImage(work, key, debootstrapDebsDir(), say);
    publishImage(debianBuildPaths(work).out, files.dir, () => complete(files), work, force, say);
  } catch (e) {
    if (e instanceof HotmountError) throw e;
    throw new HotmountError("INTERNAL", `building the Debian guest failed: ${e instanceof Error ? e.message : String(e)}`, {
      cause: e,
      hint: "Run scripts/build-guest --distro debian --force to see the build's progress.",
    });
  } finally {
    // A failure to clean up must not hide the build's own error.
    await removeWorkDir(work).catch((e) => say(`could not remove ${work}: ${e instanceof Error ? e.message : String(e)}`));
  }
}
