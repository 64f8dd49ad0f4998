// scripts/junit-summary.ts: the one line CI reads, and the failures printed just above it.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const dir = mkdtempSync(`${tmpdir()}/hmt-junit-`);
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const report = (name: string, xml: string) => {
  const p = join(dir, `${name}.xml`);
  writeFileSync(p, xml);
  return p;
};
const run = (...args: string[]) => {
  const r = Bun.spawnSync(["bun", join(import.meta.dir, "../../scripts/junit-summary.ts"), ...args], { env: { ...process.env } });
  return r.stdout.toString().trimEnd().split("\n");
};

const source = report(
  "source",
  `<?xml version="1.0"?>
<testsuites name="bun test" tests="4" failures="1" skipped="1">
  <testsuite name="a.test.ts" file="a.test.ts" tests="4" failures="1" skipped="1">
    <testcase name="ok" file="a.test.ts" line="2" />
    <testcase name="bad &lt;one&gt; &amp; &quot;x&quot;" file="a.test.ts" line="3">
      <failure type="AssertionError" message="expect(received).toBe(expected)&#10;&#10;Expected: 2&#10;Received: 1&#10;">...</failure>
    </testcase>
  </testsuite>
</testsuites>`,
);
const binary = report("binary", `<testsuites tests="3" failures="0" skipped="0"></testsuites>`);

test("sums every report; each failure is named with its file, line and why, before the last line", () => {
  const lines = run(source, binary);
  expect(lines).toEqual([
    'FAILED [source] a.test.ts:3 bad <one> & "x": expect(received).toBe(expected) | Expected: 2 | Received: 1',
    "5 passed, 1 failed, 1 skipped",
  ]);
});

test("a failed stage without a failed case still counts; a missing report is no crash", () => {
  expect(run("--failed-stages", "2", binary, join(dir, "missing.xml"))).toEqual(["3 passed, 2 failed"]);
});

test("--times lists each file's seconds per report, slowest first, before the counts", () => {
  const timed = report(
    "stage",
    `<testsuites tests="2" failures="0" skipped="0" time="30">
  <testsuite name="fast.test.ts" file="fast.test.ts" tests="1" time="2.5"><testcase name="a" file="fast.test.ts" line="1" /></testsuite>
  <testsuite name="slow.test.ts" file="slow.test.ts" tests="1" time="27.25"><testcase name="b" file="slow.test.ts" line="1" /></testsuite>
</testsuites>`,
  );
  expect(run("--times", timed)).toEqual([
    "time per file, stage (30 s in 2 files):",
    "     27.3 s  slow.test.ts",
    "      2.5 s  fast.test.ts",
    "2 passed, 0 failed",
  ]);
});
