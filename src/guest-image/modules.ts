// Kernel modules for the guest: the listed ones plus everything their `depends=` pulls in, copied
// out of the unpacked kernel package. The package ships no modules.dep (Debian runs depmod at
// install time), so dependencies come from each module's own .modinfo section.
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { HotmountError } from "../core/errors.ts";
import { modinfo } from "./elf.ts";

export interface ModuleSet {
  kver: string;
  /** Listed modules that are modules (not built in), in list order: what /init loads. */
  load: string[];
  /** Listed modules the kernel has built in. */
  builtin: string[];
  /** Every .ko copied (relative to lib/modules/<kver>). */
  files: string[];
}

/** Module names as the kernel compares them: "-" and "_" are the same. */
const norm = (name: string) => name.replace(/-/g, "_");
const nameOf = (rel: string) =>
  norm(
    rel
      .split("/")
      .pop()!
      .replace(/\.ko(\.[a-z]+)?$/, ""),
  );

function listFile(path: string): string[] {
  return existsSync(path)
    ? readFileSync(path, "utf8")
        .split("\n")
        .map((l) => l.trim())
        .filter(Boolean)
    : [];
}

/** The kernel version directory in an unpacked kernel package (exactly one expected). */
export function kernelVersion(kernelRoot: string): string {
  const dirs = existsSync(join(kernelRoot, "lib/modules")) ? readdirSync(join(kernelRoot, "lib/modules")) : [];
  if (dirs.length !== 1 || !dirs[0]) throw new HotmountError("INTERNAL", `expected one kernel in the kernel package, found: ${dirs.join(", ") || "none"}`);
  return dirs[0];
}

/**
 * Copies `wanted` and their dependency closure from `kernelRoot` into `root`, plus the
 * modules.order/modules.builtin lists (depmod and modprobe read them).
 */
export function copyModules(kernelRoot: string, root: string, wanted: readonly string[]): ModuleSet {
  const kver = kernelVersion(kernelRoot);
  const src = join(kernelRoot, "lib/modules", kver);
  const dst = join(root, "lib/modules", kver);
  const byName = new Map(listFile(join(src, "modules.order")).map((rel) => [nameOf(rel), rel] as const));
  const builtinSet = new Set(listFile(join(src, "modules.builtin")).map(nameOf));

  const files: string[] = [];
  const seen = new Set<string>();
  const visit = (name: string, via: string) => {
    const n = norm(name);
    if (seen.has(n) || builtinSet.has(n)) return;
    seen.add(n);
    const rel = byName.get(n);
    if (!rel || !existsSync(join(src, rel))) {
      throw new HotmountError("INTERNAL", `kernel ${kver} has no module ${n} (needed by ${via})`, {
        hint: "Take it out of GUEST_MODULES in src/guest-image/contract.ts, or pick a kernel that has it.",
      });
    }
    files.push(rel);
    const deps = modinfo(readFileSync(join(src, rel))).get("depends")?.[0] ?? "";
    for (const d of deps.split(",").filter(Boolean)) visit(d, n);
  };
  for (const m of wanted) visit(m, "GUEST_MODULES");

  for (const rel of files) {
    mkdirSync(dirname(join(dst, rel)), { recursive: true });
    copyFileSync(join(src, rel), join(dst, rel));
  }
  for (const f of ["modules.order", "modules.builtin", "modules.builtin.modinfo"]) {
    if (existsSync(join(src, f))) copyFileSync(join(src, f), join(dst, f));
  }
  return {
    kver,
    load: wanted.map(norm).filter((m) => !builtinSet.has(m)),
    builtin: wanted.map(norm).filter((m) => builtinSet.has(m)),
    files: files.sort(),
  };
}
