// Getting the guest's Debian packages with the host's own apt (its sources, its keys, its proxy):
// nothing is installed on the host, the .deb files land in a download cache that rebuilds reuse.
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from "node:fs";
import { basename, join } from "node:path";
import { HotmountError } from "../core/errors.ts";
import { DOWNLOAD_WORK_PREFIX } from "../core/paths.ts";
import { GUEST_PACKAGES, KERNEL_PACKAGE, LIB_PACKAGE_RE, LIB_PACKAGE_SKIP_RE } from "./recipe.ts";
import { run } from "./run.ts";

const DEPENDS_FLAGS = ["--no-recommends", "--no-suggests", "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances"];

/**
 * One `apt-cache depends --recurse` over the kernel metapackage and the table (one call: apt-cache
 * may take a second per call when apt keeps no binary cache): name → hard dependencies, first
 * alternative of each group. The graph is wider than the guest (it follows non-library packages
 * too); resolvePackages walks only the library edges.
 */
async function dependencyGraph(names: string[]): Promise<Map<string, string[]>> {
  const out = await run(["apt-cache", "depends", "--recurse", ...DEPENDS_FLAGS, ...names]);
  const map = new Map<string, string[]>();
  let cur: string[] | null = null;
  let afterAlt = false; // the previous line was "|Depends:": this one is a fallback alternative
  for (const line of out.split("\n")) {
    if (/^\S/.test(line)) {
      cur = [];
      map.set(line.trim(), cur);
      afterAlt = false;
      continue;
    }
    const m = /^\s+(\|?)(?:Pre)?Depends: (\S+)/.exec(line);
    if (!m || !cur) continue;
    const [, alt, dep] = m;
    if (!afterAlt && dep && !dep.startsWith("<")) cur.push(dep.replace(/:any$/, ""));
    afterAlt = alt === "|";
  }
  return map;
}

/** The full package list: the resolved kernel image, the table, and the library closure. */
export async function resolvePackages(): Promise<{ kernel: string; packages: string[] }> {
  const graph = await dependencyGraph([KERNEL_PACKAGE, ...GUEST_PACKAGES.map((p) => p.name)]);
  const kernel = (graph.get(KERNEL_PACKAGE) ?? []).find((d) => /^linux-image-\d/.test(d));
  if (!kernel) {
    throw new HotmountError("HOST_DEPENDENCY_MISSING", `apt does not know ${KERNEL_PACKAGE}`, {
      hint: "Run apt-get update; the host's apt sources must carry Debian's amd64 kernel.",
    });
  }
  const wanted = new Set(GUEST_PACKAGES.map((p) => p.name));
  const queue = GUEST_PACKAGES.filter((p) => p.libs).map((p) => p.name);
  while (queue.length) {
    for (const dep of graph.get(queue.shift()!) ?? []) {
      if (wanted.has(dep) || !LIB_PACKAGE_RE.test(dep) || LIB_PACKAGE_SKIP_RE.test(dep)) continue;
      wanted.add(dep);
      queue.push(dep);
    }
  }
  return { kernel, packages: [kernel, ...wanted] };
}

export interface Deb {
  name: string;
  version: string;
  arch: string;
  /** Where the .deb is (or will be) in the download cache. */
  path: string;
  bytes: number;
}

/**
 * What `apt-get download` would fetch, without fetching: its --print-uris lines are
 * "'<uri>' <file> <size> <hash>", and <file> is the exact name a download writes.
 */
async function planDownloads(names: string[], cacheDir: string): Promise<Deb[]> {
  const out = await run(["apt-get", "download", "--print-uris", ...names]);
  const debs: Deb[] = [];
  for (const line of out.split("\n")) {
    const [, file, size] = line.trim().split(/\s+/);
    const parts = file?.endsWith(".deb") ? file.slice(0, -4).split("_") : [];
    if (parts.length !== 3) continue;
    const [name, version, arch] = parts as [string, string, string];
    debs.push({ name, version: decodeURIComponent(version), arch, path: join(cacheDir, file!), bytes: Number(size) || 0 });
  }
  const missing = names.filter((n) => !debs.some((d) => d.name === n));
  if (missing.length) {
    throw new HotmountError("HOST_DEPENDENCY_MISSING", `apt has no candidate for: ${missing.join(", ")}`, {
      hint: "Run apt-get update; the guest packages come from the host's apt sources.",
    });
  }
  return names.map((n) => debs.find((d) => d.name === n)!);
}

/** Makes sure every package's .deb is in `cacheDir`; downloads only the missing ones. */
export async function fetchDebs(names: string[], cacheDir: string, say: (l: string) => void): Promise<Deb[]> {
  mkdirSync(cacheDir, { recursive: true });
  const debs = await planDownloads(names, cacheDir);
  const missing = debs.filter((d) => !existsSync(d.path));
  say(`${debs.length - missing.length} of ${debs.length} packages already downloaded`);
  if (!missing.length) return debs;

  const mb = (missing.reduce((n, d) => n + d.bytes, 0) / 1e6).toFixed(1);
  say(`downloading ${missing.length} packages (${mb} MB): ${missing.map((d) => d.name).join(" ")}`);
  // A private directory per download, renamed file by file: a concurrent build never sees a partial .deb.
  const tmp = mkdtempSync(join(cacheDir, DOWNLOAD_WORK_PREFIX));
  try {
    // As root, apt's sandbox user cannot write into a private cache directory; say so up front
    // instead of getting a warning for every file.
    const sandbox = process.getuid?.() === 0 ? ["-o", "APT::Sandbox::User=root"] : [];
    await run(["apt-get", "download", "-q", ...sandbox, ...missing.map((d) => `${d.name}=${d.version}`)], {
      cwd: tmp,
      onLine: (line) => {
        // "Get:N <source> <suite> <arch> <package> <arch> <version> [<size>]": report package and size only.
        const m = /^Get:\d+ .* (\S+) \S+ \S+ \[([^\]]+)\]\s*$/.exec(line);
        if (m) say(`  got ${m[1]} (${m[2]})`);
      },
    });
    for (const d of missing) {
      const file = join(tmp, basename(d.path));
      if (!existsSync(file)) throw new HotmountError("INTERNAL", `apt-get download did not produce ${basename(d.path)}`);
      renameSync(file, d.path);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return debs;
}
