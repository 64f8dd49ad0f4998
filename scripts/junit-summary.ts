// Prints "N passed, N failed[, N skipped]" summed over bun's junit reports (CI reads that one
// line). Usage: junit-summary.ts [--failed-stages N] [--times] report.xml...
// --times first lists every test file's time per report, slowest first (where CI time goes).
// A stage that failed without a failed test case (a build error, a failing global hook such as
// the leak check, a missing report) counts as one failure, so a red run never says "0 failed".
import { existsSync, readFileSync } from "node:fs";

const args = process.argv.slice(2);
let failedStages = 0;
let times = false;
const files: string[] = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--failed-stages") failedStages = Number(args[++i] ?? 0);
  else if (args[i] === "--times") times = true;
  else files.push(args[i]!);
}

/** Each top-level test file of a report with its seconds, slowest first. */
function fileTimes(xml: string): { file: string; seconds: number }[] {
  const out: { file: string; seconds: number }[] = [];
  for (const m of xml.matchAll(/<testsuite\b([^>]*)>/g)) {
    const file = /\bfile="([^"]*)"/.exec(m[1]!)?.[1] ?? /\bname="([^"]*)"/.exec(m[1]!)?.[1] ?? "";
    const seconds = Number(/\btime="([0-9.]+)"/.exec(m[1]!)?.[1] ?? "0");
    if (!file || out.some((o) => o.file === file)) continue;
    out.push({ file: unescape(file), seconds });
  }
  return out.sort((a, b) => b.seconds - a.seconds);
}

function counts(xml: string) {
  const root = /<testsuites\b([^>]*)>/.exec(xml)?.[1] ?? "";
  const attr = (n: string) => Number(new RegExp(`\\b${n}="(\\d+)"`).exec(root)?.[1] ?? "0");
  const failed = attr("failures") + attr("errors");
  const skipped = attr("skipped");
  return { passed: attr("tests") - failed - skipped, failed, skipped };
}

const unescape = (t: string) =>
  t
    .replace(/&#10;/g, "\n")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, "&");

/** Each failed case with where it is and the first lines of why: CI may show only the log's tail. */
function failures(xml: string, report: string): string[] {
  const out: string[] = [];
  for (const m of xml.matchAll(/<testcase\b([^>]*)>\s*<(failure|error)\b[^>]*?message="([^"]*)"/g)) {
    const a = (n: string) => unescape(new RegExp(`\\b${n}="([^"]*)"`).exec(m[1]!)?.[1] ?? "");
    const why = unescape(m[3]!)
      .split("\n")
      .filter((l) => l.trim())
      .slice(0, 4)
      .join(" | ");
    out.push(`FAILED [${report}] ${a("file")}:${a("line")} ${a("name")}: ${why}`);
  }
  return out;
}

const total = { passed: 0, failed: 0, skipped: 0 };
if (times) {
  for (const f of files) {
    if (!existsSync(f)) continue;
    const rows = fileTimes(readFileSync(f, "utf8"));
    const sum = rows.reduce((n, r) => n + r.seconds, 0);
    console.log(`time per file, ${f.replace(/^.*\//, "").replace(/\.xml$/, "")} (${Math.round(sum)} s in ${rows.length} files):`);
    for (const r of rows) console.log(`  ${r.seconds.toFixed(1).padStart(7)} s  ${r.file}`);
  }
}
for (const f of files) {
  if (!existsSync(f)) continue;
  const xml = readFileSync(f, "utf8");
  for (const l of failures(xml, f.replace(/^.*\//, "").replace(/\.xml$/, ""))) console.log(l);
  const c = counts(xml);
  total.passed += c.passed;
  total.failed += c.failed;
  total.skipped += c.skipped;
}
if (total.failed < failedStages) total.failed = failedStages;
console.log(`${total.passed} passed, ${total.failed} failed${total.skipped ? `, ${total.skipped} skipped` : ""}`);
