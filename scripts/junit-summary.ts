// Prints "N passed, N failed[, N skipped]" from bun's junit report (CI reads that one line).
// Falls back to bun's own summary lines when the report is missing.
import { existsSync, readFileSync } from "node:fs";

const [xmlPath = "test-results/junit.xml", logPath = "test-results/bun-test.log", exitStatus = "0"] = process.argv.slice(2);

function fromJunit(xml: string) {
  const root = /<testsuites\b([^>]*)>/.exec(xml)?.[1] ?? "";
  const attr = (n: string) => Number(new RegExp(`\\b${n}="(\\d+)"`).exec(root)?.[1] ?? "0");
  const tests = attr("tests");
  const failed = attr("failures") + attr("errors");
  const skipped = attr("skipped");
  return { passed: tests - failed - skipped, failed, skipped };
}

function fromLog(log: string) {
  const n = (w: string) => Number(new RegExp(`^\\s*(\\d+) ${w}$`, "m").exec(log)?.[1] ?? "0");
  return { passed: n("pass"), failed: n("fail") + n("error") + n("errors"), skipped: n("skip") };
}

const r = existsSync(xmlPath) ? fromJunit(readFileSync(xmlPath, "utf8")) : fromLog(existsSync(logPath) ? readFileSync(logPath, "utf8") : "");
// An error outside any test (a failing global hook, such as the leak check) fails the run
// without a failed test case: count it, so the line never says "0 failed" for a red run.
if (exitStatus !== "0" && r.failed === 0) r.failed = 1;
console.log(`${r.passed} passed, ${r.failed} failed${r.skipped ? `, ${r.skipped} skipped` : ""}`);
