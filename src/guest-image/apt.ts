// Getting the guest's Debian packages with the host's own apt (its sources, its keys, its proxy):
// nothing is installed on the host, the .deb files land in a download cache that rebuilds reuse.
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { HotmountError } from "../core/errors.ts";
import { DOWNLOAD_WORK_PREFIX, foreignAptDir } from "../core/paths.ts";
import { ARCH_PROFILES, type GuestArch, hostGuestArch } from "./arch.ts";
import { GUEST_PACKAGES, LIB_PACKAGE_RE, LIB_PACKAGE_SKIP_RE, kernelPackage } from "./recipe.ts";
import { run } from "./run.ts";

/** A foreign architecture's package lists older than this are fetched again before a build. */
const FOREIGN_LISTS_MAX_AGE_MS = 24 * 60 * 60 * 1000;

/**
 * apt options for `arch`: none for the host's own architecture; for another one (arm64 packages on
 * an amd64 host) a private apt state (lists, cache, an empty dpkg status) that knows only that
 * architecture, so nothing of the host's apt or dpkg is touched (no dpkg --add-architecture). The
 * host's sources, keys and proxy settings are still the ones used.
 */
function aptArchOptions(arch: GuestArch): string[] {
  if (arch === safeHostArch()) return [];
  const d = foreignAptDir(ARCH_PROFILES[arch].debArch);
  const deb = ARCH_PROFILES[arch].debArch;
  return [
    "-o",
    `APT::Architecture=${deb}`,
    "-o",
    `APT::Architectures=${deb}`,
    "-o",
    `Dir::State=${d}/state`,
    "-o",
    `Dir::State::status=${d}/state/status`,
    "-o",
    `Dir::Cache=${d}/cache`,
  ];
}

function safeHostArch(): GuestArch | null {
  try {
    return hostGuestArch();
  } catch {
    return null;
  }
}

/** Fetches the foreign architecture's package lists into its private apt state when missing or a day old. */
async function ensureForeignLists(arch: GuestArch, say: (l: string) => void): Promise<void> {
  if (arch === safeHostArch()) return;
  const d = foreignAptDir(ARCH_PROFILES[arch].debArch);
  const stamp = `${d}/state/updated`;
  try {
    if (Date.now() - statSync(stamp).mtimeMs < FOREIGN_LISTS_MAX_AGE_MS) return;
  } catch {}
  for (const sub of ["state/lists/partial", "cache/archives/partial"]) mkdirSync(`${d}/${sub}`, { recursive: true });
  if (!existsSync(`${d}/state/status`)) writeFileSync(`${d}/state/status`, "");
  say(`fetching the ${ARCH_PROFILES[arch].debArch} package lists (a private apt state in ${d})`);
  const sandbox = process.getuid?.() === 0 ? ["-o", "APT::Sandbox::User=root"] : [];
  await run(["apt-get", "update", "-q", ...sandbox, ...aptArchOptions(arch)]);
  writeFileSync(stamp, new Date().toISOString() + "\n");
}

const DEPENDS_FLAGS = ["--no-recommends", "--no-suggests", "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances"];

/**
 * One `apt-cache depends --recurse` over the kernel metapackage and the table (one call: apt-cache
 * may take a second per call when apt keeps no binary cache): name → hard dependencies, first
 * alternative of each group. The graph is wider than the guest (it follows non-library packages
 * too); resolvePackages walks only the library edges.
 */
async function dependencyGraph(names: string[], arch: GuestArch): Promise<Map<string, string[]>> {
  const out = await run(["apt-cache", ...aptArchOptions(arch), "depends", "--recurse", ...DEPENDS_FLAGS, ...names]);
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
export async function resolvePackages(arch: GuestArch = "x86_64", say: (l: string) => void = () => {}): Promise<{ kernel: string; packages: string[] }> {
  await ensureForeignLists(arch, say);
  const kpkg = kernelPackage(arch);
  const graph = await dependencyGraph([kpkg, ...GUEST_PACKAGES.map((p) => p.name)], arch);
  // apt-cache names a foreign-architecture package "name:arch" when the host's dpkg is another arch.
  for (const [k, v] of [...graph])
    if (k.includes(":"))
      graph.set(
        k.replace(/:[a-z0-9]+$/, ""),
        v.map((d) => d.replace(/:[a-z0-9]+$/, "")),
      );
  const kernel = (graph.get(kpkg) ?? []).map((d) => d.replace(/:[a-z0-9]+$/, "")).find((d) => /^linux-image-\d/.test(d));
  if (!kernel) {
    throw new HotmountError("HOST_DEPENDENCY_MISSING", `apt does not know ${kpkg}`, {
      hint: `Run apt-get update; the host's apt sources must carry Debian's ${ARCH_PROFILES[arch].debArch} kernel.`,
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
async function planDownloads(names: string[], cacheDir: string, arch: GuestArch): Promise<Deb[]> {
  const out = await run(["apt-get", ...aptArchOptions(arch), "download", "--print-uris", ...names]);
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
export async function fetchDebs(names: string[], cacheDir: string, say: (l: string) => void, arch: GuestArch = "x86_64"): Promise<Deb[]> {
  mkdirSync(cacheDir, { recursive: true });
  await ensureForeignLists(arch, say);
  const debs = await planDownloads(names, cacheDir, arch);
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
    await run(["apt-get", ...aptArchOptions(arch), "download", "-q", ...sandbox, ...missing.map((d) => `${d.name}=${d.version}`)], {
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
