// The one quoting function, fuzzed through a real shell: whatever goes in comes out unchanged
// as one argument, and nothing ever runs.
import { expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { joinArgv, quoteArg } from "../../src/core/shell-quote.ts";

const NASTY = [
  "",
  " ",
  "'",
  "''",
  '"',
  "\\",
  "$(touch CANARY)",
  "`touch CANARY`",
  "; touch CANARY",
  "a\nb",
  "\t",
  "*",
  "~",
  "$HOME",
  "!x",
  "-n",
  "--",
  "é 日本",
  "a'b\"c$d`e\\f",
];

function randomArg(rng: () => number): string {
  const alphabet = ` '"\\$\`;|&<>(){}[]*?~!#%^=,\n\t-abcXYZ019é日`;
  let s = "";
  const n = Math.floor(rng() * 24);
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(rng() * alphabet.length)];
  return s;
}

function mulberry32(seed: number) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test("round-trips nasty and 2000 random argument lists through sh, and runs nothing", () => {
  const dir = mkdtempSync(`${tmpdir()}/hmt-quote-`);
  const rng = mulberry32(42);
  const lists: string[][] = [NASTY];
  for (let i = 0; i < 2000; i++) lists.push(Array.from({ length: 1 + Math.floor(rng() * 4) }, () => randomArg(rng)));
  // One shell per 200 lists: each prints its args NUL-separated, lists separated by a marker.
  for (let b = 0; b < lists.length; b += 200) {
    const batch = lists.slice(b, b + 200);
    const script = batch.map((l) => `printf '%s\\0' ${joinArgv(l)}; printf 'END\\0'`).join("\n");
    const r = Bun.spawnSync(["sh", "-c", script], { cwd: dir });
    expect(r.exitCode).toBe(0);
    const out = r.stdout.toString().split("\0");
    let k = 0;
    for (const l of batch) {
      for (const a of l) expect(out[k++]).toBe(a);
      expect(out[k++]).toBe("END");
    }
  }
  expect(readdirSync(dir)).toEqual([]);
  rmSync(dir, { recursive: true, force: true });
});

test("plain words stay readable and NUL is refused", () => {
  expect(quoteArg("/mnt/data")).toBe("/mnt/data");
  expect(quoteArg("a b")).toBe("'a b'");
  expect(quoteArg("")).toBe("''");
  expect(() => quoteArg("a\0b")).toThrow(/NUL/);
});
