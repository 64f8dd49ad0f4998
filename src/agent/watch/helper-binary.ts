// The guest helper's static binary for a guest architecture (x86_64, aarch64). A compiled
// hotmount carries both as embedded assets (scripts/build.ts builds them); from a checkout they
// are compiled from the C files in guest-helper/ on first use into the build cache, keyed by the
// hash of those files.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import { HotmountError } from "../../core/errors.ts";
import { cacheHome } from "../../core/paths.ts";

export type HelperArch = "x86_64" | "aarch64";
export const HELPER_ARCHES: readonly HelperArch[] = ["x86_64", "aarch64"];

/** The C compiler that builds a static binary for each guest architecture (Debian package names in scripts/deps/watch.txt). */
export const HELPER_COMPILERS: Record<HelperArch, string> = { x86_64: "x86_64-linux-gnu-gcc", aarch64: "aarch64-linux-gnu-gcc" };

export const helperAssetName = (arch: HelperArch) => `hotmount-guest-helper-${arch}`;
export const HELPER_DIR = join(import.meta.dir, "guest-helper");

/** The helper's source files (.c compiled, .h included), sorted: what its cache key covers. */
function helperFiles(): string[] {
  return readdirSync(HELPER_DIR)
    .filter((f) => f.endsWith(".c") || f.endsWith(".h"))
    .sort()
    .map((f) => join(HELPER_DIR, f));
}

/** `uname -m` in the guest, as a helper architecture; null for one hotmount has no helper for. */
export function helperArch(unameM: string): HelperArch | null {
  const m = unameM.trim();
  if (m === "x86_64" || m === "amd64") return "x86_64";
  if (m === "aarch64" || m === "arm64") return "aarch64";
  return null;
}

/** Compiles the helper for `arch` to `out` (static, stripped). Used by scripts/build.ts and on demand. */
export function compileHelper(arch: HelperArch, out: string): void {
  const sources = helperFiles().filter((f) => f.endsWith(".c"));
  const cc = [HELPER_COMPILERS[arch], ...(arch === "x86_64" && process.arch === "x64" ? ["gcc"] : [])];
  let last = "";
  for (const c of cc) {
    const tmp = `${out}.tmp-${process.pid}`;
    const r = spawnSync(c, ["-static", "-O2", "-Wall", "-Wextra", "-s", "-o", tmp, ...sources], { encoding: "utf8", timeout: 120_000 });
    if (r.status === 0) {
      renameSync(tmp, out);
      return;
    }
    last = r.error ? `${c}: ${r.error.message}` : `${c}: ${r.stderr.trim().split("\n").slice(-3).join(" | ")}`;
  }
  throw new HotmountError("HOST_DEPENDENCY_MISSING", `cannot build the guest watch helper for ${arch}: ${last}`, {
    hint: "Install the compilers in scripts/deps/watch.txt (scripts/setup does), use a release build, or add the mount with --no-watch.",
  });
}

const cache = new Map<HelperArch, Buffer>();

/** The helper's bytes for `arch`: embedded in a release, else built once into the cache. */
export async function helperBinary(arch: HelperArch): Promise<Buffer> {
  const hit = cache.get(arch);
  if (hit) return hit;
  const name = helperAssetName(arch);
  const blob = Bun.embeddedFiles.find((b) => ((b as Blob & { name?: string }).name ?? "").includes(name));
  let bytes: Buffer;
  if (blob) {
    bytes = Buffer.from(await blob.arrayBuffer());
  } else {
    if (!existsSync(HELPER_DIR)) {
      throw new HotmountError("HOST_DEPENDENCY_MISSING", `this hotmount has no guest watch helper for ${arch}`, {
        hint: "Use a build made by scripts/build.ts, or add the mount with --no-watch.",
      });
    }
    const h = createHash("sha256");
    for (const f of helperFiles()) h.update(`${f.slice(HELPER_DIR.length)}\0`).update(readFileSync(f));
    const sum = h.digest("hex").slice(0, 16);
    const dir = join(cacheHome(), "guest-helper");
    const out = join(dir, `${name}-${sum}`);
    if (!existsSync(out)) {
      mkdirSync(dir, { recursive: true });
      compileHelper(arch, out);
    }
    bytes = readFileSync(out);
  }
  cache.set(arch, bytes);
  return bytes;
}
