// Fails when a module imports from a layer above its own. Dependencies point one way, toward
// src/core/: core < util < protocol clients and guest tooling < drivers < agent < client <
// cli, ui, bench < main. Same-layer imports are allowed; dynamic `import("…")` counts too,
// because hiding an upward edge behind a lazy import is still an upward edge. Outside drivers/,
// a driver is reached only through the contract (drivers/driver.ts) and the registry
// (drivers/index.ts): importing a driver's own folder is a violation too.
// Usage: bun scripts/check-layers.ts [--list]   (exit 1 on any violation)
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "..");

/** Lower number = lower layer. The first matching prefix wins. */
export const LAYERS: [prefix: string, rank: number][] = [
  ["src/core/", 0],
  ["src/util/", 1],
  ["src/qmp/", 2],
  ["src/guest-exec/", 2],
  ["src/guest-image/", 2],
  ["ffi/", 2],
  ["drivers/", 3],
  ["src/agent/", 4],
  ["src/client/", 5],
  ["src/cli/", 6],
  ["src/bench/", 6],
  ["ui/", 6],
  ["src/main.ts", 7],
];

/** What code outside drivers/ may import from it. */
const DRIVER_ENTRY_POINTS = ["drivers/driver.ts", "drivers/index.ts"];

export function rankOf(path: string): number | undefined {
  for (const [p, r] of LAYERS) if (path === p || path.startsWith(p)) return r;
  return undefined;
}

const IMPORT_RE = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;

export function importsOf(source: string): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(IMPORT_RE)) out.push((m[1] ?? m[2])!);
  return out;
}

function walk(dir: string, acc: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === "node_modules" || name.startsWith(".")) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, acc);
    else if (/\.(ts|tsx)$/.test(name) && !name.endsWith(".d.ts")) acc.push(p);
  }
  return acc;
}

export interface Violation {
  from: string;
  to: string;
  fromRank: number;
  toRank: number;
}

export function findViolations(root = ROOT): Violation[] {
  const files = ["src", "ui", "drivers", "ffi"].flatMap((d) => walk(join(root, d)));
  const out: Violation[] = [];
  for (const f of files) {
    const from = relative(root, f);
    const fromRank = rankOf(from);
    if (fromRank === undefined) continue;
    for (const spec of importsOf(readFileSync(f, "utf8"))) {
      if (!spec.startsWith(".")) continue;
      const to = relative(root, resolve(dirname(f), spec));
      const toRank = rankOf(to);
      if (toRank !== undefined && toRank > fromRank) out.push({ from, to, fromRank, toRank });
      else if (!from.startsWith("drivers/") && to.startsWith("drivers/") && !DRIVER_ENTRY_POINTS.includes(to))
        out.push({ from, to, fromRank, toRank: toRank ?? 3 });
    }
  }
  return out;
}

if (import.meta.main) {
  const v = findViolations();
  for (const x of v)
    console.log(
      x.toRank > x.fromRank
        ? `${x.from} (layer ${x.fromRank}) imports ${x.to} (layer ${x.toRank})`
        : `${x.from} imports ${x.to}: outside drivers/, use drivers/index.ts or drivers/driver.ts`,
    );
  if (v.length) {
    console.log(`check-layers: ${v.length} violation(s); dependencies must point toward src/core/, and drivers are reached through their registry`);
    process.exit(1);
  }
  console.log("check-layers: ok");
}
