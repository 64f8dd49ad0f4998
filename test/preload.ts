// Loaded before every test file (bunfig.toml; scripts/test runs `bun test --isolate`, so these
// hooks run once per file). Tests get their own short HOTMOUNT_HOME (unix socket paths are
// limited to 107 bytes) and share the build cache, so the demo guest is built once per machine.
// After each file, nothing the file started may still run, and nothing it made in the temp
// folder may be left: the leak audit fails the file and cleans up after it.
import { afterAll, beforeAll, setDefaultTimeout } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { leftoverTempEntries, ourProcesses, tempEntries } from "./helpers/leaks.ts";

// scripts/test makes the run's home and removes it (and what sits beside it) afterwards; a bare
// `bun test` makes its own here and leaves it in /tmp.
if (!process.env.HOTMOUNT_TEST_HOME) process.env.HOTMOUNT_TEST_HOME = mkdtempSync("/tmp/hmt-");
// The run's own temp folder (world-writable and sticky like /tmp: tests share folders with
// uid 65534), so that the audit below sees only this run's leftovers even when other runs share
// the machine. Children (the CLI, agents) inherit TMPDIR too.
const runTmp = `${process.env.HOTMOUNT_TEST_HOME}.tmp`;
if (process.env.TMPDIR !== runTmp) {
  mkdirSync(runTmp, { recursive: true });
  chmodSync(runTmp, 0o1777);
  process.env.TMPDIR = runTmp;
}
process.env.HOTMOUNT_HOME = process.env.HOTMOUNT_TEST_HOME;
// Guests run under TCG here: a VM test takes seconds to minutes, never 5 s.
setDefaultTimeout(300_000);

let before = new Set<string>();
beforeAll(() => {
  before = tempEntries();
});

afterAll(async () => {
  // Give detached children a moment to notice their parent is gone.
  for (let i = 0; i < 30 && ourProcesses().length; i++) await Bun.sleep(100);
  const left = ourProcesses();
  const files = leftoverTempEntries(before);
  for (const p of left)
    try {
      process.kill(p.pid, "SIGKILL");
    } catch {}
  for (const f of files) rmSync(f, { recursive: true, force: true });
  const why: string[] = [];
  if (left.length) why.push(`leaked ${left.length} process(es):\n${left.map((p) => `${p.pid} ${p.argv.slice(0, 300)}`).join("\n")}`);
  if (files.length) why.push(`left ${files.length} temp folder(s)/file(s) behind (removed now):\n${files.join("\n")}`);
  if (why.length) throw new Error(`this test file ${why.join("\nand ")}`);
}, 30_000);
