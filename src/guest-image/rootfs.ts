// Filesystem work on the guest root before packing: resolving paths the way the guest will,
// busybox applet links, the shared-library check, and the sorted file list for cpio.
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, symlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import { HotmountError } from "../core/errors.ts";
import { elfInterp, elfNeeded, isElf } from "./elf.ts";
import { run } from "./run.ts";

/**
 * Resolves `path` (absolute in the guest) inside `root`, following symlinks the way the guest
 * would: absolute targets are relative to the guest root, never the host's. Null if it dangles.
 */
export function resolveInRoot(root: string, path: string): string | null {
  const todo = path.split("/").filter(Boolean);
  const done: string[] = [];
  let hops = 0;
  while (todo.length) {
    const part = todo.shift()!;
    if (part === ".") continue;
    if (part === "..") {
      done.pop();
      continue;
    }
    const host = join(root, ...done, part);
    let st;
    try {
      st = lstatSync(host);
    } catch {
      return null;
    }
    if (st.isSymbolicLink()) {
      if (++hops > 40) return null;
      const target = readlinkSync(host);
      if (target.startsWith("/")) done.length = 0;
      todo.unshift(...target.split("/").filter(Boolean));
    } else {
      done.push(part);
    }
  }
  return "/" + done.join("/");
}

/** busybox applets as symlinks (what `busybox --install -s` does), done at build time; files that packages ship win. */
export async function installBusyboxLinks(root: string, busybox = join(root, "bin/busybox")): Promise<number> {
  // The applet list of the busybox that runs here; the guest's is the same Debian build for its arch.
  const list = await run([busybox, "--list-full"]);
  let n = 0;
  for (const rel of list
    .split("\n")
    .map((l) => l.trim().replace(/^\/+/, ""))
    .filter(Boolean)) {
    const p = join(root, rel);
    if (lstatExists(p)) continue;
    mkdirSync(dirname(p), { recursive: true }); // applet dirs are real directories in the image
    symlinkSync("/bin/busybox", p);
    n++;
  }
  return n;
}

function lstatExists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

const BIN_DIRS = ["bin", "sbin", "usr/bin", "usr/sbin", "usr/libexec"];
const LIB_DIRS = ["lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu", "lib/aarch64-linux-gnu", "usr/lib/aarch64-linux-gnu", "lib64", "lib", "usr/lib"];

/**
 * Every ELF program in the bin directories must find its loader and, transitively, every DT_NEEDED
 * library in the image: this is what turns "forgot a library package" into a build error instead
 * of a guest that cannot run sshfs. Returns how many programs were checked.
 */
export function checkSharedLibs(root: string): number {
  const problems: string[] = [];
  const found = new Map<string, string | null>(); // soname → guest path
  const findLib = (so: string): string | null => {
    if (!found.has(so)) {
      const hit = LIB_DIRS.map((d) => resolveInRoot(root, `/${d}/${so}`)).find((p) => p && lstatSync(join(root, p)).isFile());
      found.set(so, hit ?? null);
    }
    return found.get(so)!;
  };
  let programs = 0;
  for (const dir of BIN_DIRS) {
    if (!existsSync(join(root, dir))) continue;
    for (const name of readdirSync(join(root, dir))) {
      const p = join(root, dir, name);
      if (!lstatSync(p).isFile()) continue;
      const buf = readFileSync(p);
      if (!isElf(buf)) continue;
      programs++;
      const interp = elfInterp(buf);
      if (interp && !resolveInRoot(root, interp)) problems.push(`/${dir}/${name}: loader ${interp} missing`);
      const queue = elfNeeded(buf);
      const visited = new Set<string>();
      while (queue.length) {
        const so = queue.shift()!;
        if (visited.has(so)) continue;
        visited.add(so);
        const lib = findLib(so);
        if (!lib) {
          problems.push(`/${dir}/${name}: ${so} not found`);
          continue;
        }
        queue.push(...elfNeeded(readFileSync(join(root, lib))));
      }
    }
  }
  if (problems.length) {
    throw new HotmountError("INTERNAL", `the guest image misses shared libraries:\n  ${problems.join("\n  ")}`, {
      hint: "Add the Debian package that ships them to GUEST_PACKAGES in src/guest-image/recipe.ts (or set libs: true).",
    });
  }
  return programs;
}

/** All paths under `root`, relative, sorted so each directory precedes its contents; symlinks not followed. */
export function listTree(root: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of readdirSync(join(root, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      out.push(r);
      if (e.isDirectory()) walk(r);
    }
  };
  walk("");
  return out.sort();
}
