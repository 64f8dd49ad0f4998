// src/client/ and src/cli/ import each other in one direction only: no module reaches itself again
// through its imports, static or lazy (a cycle hidden behind `import()` is still a cycle).
import { expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { importsOf } from "../../scripts/check-layers.ts";

const ROOT = resolve(import.meta.dir, "../..");

function filesIn(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true })
    .map(String)
    .filter((f) => /\.tsx?$/.test(f))
    .map((f) => join(dir, f));
}

function importGraph(files: string[]): Map<string, string[]> {
  const edges = new Map<string, string[]>();
  for (const f of files) {
    const to = importsOf(readFileSync(join(ROOT, f), "utf8"))
      .filter((s) => s.startsWith("."))
      .map((s) => relative(ROOT, resolve(dirname(join(ROOT, f)), s)))
      .filter((t) => files.includes(t) && existsSync(join(ROOT, t)));
    edges.set(f, to);
  }
  return edges;
}

/** Every cycle in the graph, each once, as the path from its smallest name back to it. */
function cycles(edges: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const walk = (path: string[]) => {
    for (const next of edges.get(path.at(-1)!) ?? []) {
      if (next === path[0]) found.push([...path, next]);
      else if (!path.includes(next) && next > path[0]!) walk([...path, next]);
    }
  };
  for (const f of edges.keys()) walk([f]);
  return found;
}

test("the client and CLI modules import one another without a cycle", () => {
  expect(cycles(importGraph([...filesIn("src/client"), ...filesIn("src/cli")]))).toEqual([]);
});

test("the cycle finder finds one", () => {
  // The shape the client had: the HTTP client asking external-vms.ts, which needed instances.ts, which needed the HTTP client.
  const g = new Map([
    ["agent-client.ts", ["external-vms.ts"]],
    ["external-vms.ts", ["instances.ts"]],
    ["instances.ts", ["agent-client.ts", "self.ts"]],
    ["self.ts", []],
  ]);
  expect(cycles(g)).toEqual([["agent-client.ts", "external-vms.ts", "instances.ts", "agent-client.ts"]]);
});
