// Measuring helpers of scripts/bench/control-plane: the agent's RSS, the step timings it logs
// with HOTMOUNT_TRACE=1 (src/core/trace.ts), and the p50/p95 tables the script prints.
import { readFileSync } from "node:fs";
import { instancePaths } from "../../src/core/paths.ts";
import { summary } from "./stats.ts";

/** The agent's resident set in MB (VmRSS), read from /proc. */
export function agentRssMb(instance: string): number {
  const pid = Number(readFileSync(instancePaths(instance).agentPid, "utf8").trim());
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no VmRSS for the agent of ${instance} (pid ${pid})`);
  return Math.round((Number(m[1]) / 1024) * 10) / 10;
}

export interface Timing {
  op: string;
  ok: boolean;
  totalMs: number;
  steps: { step: string; ms: number; guestCmds: number; guestMs: number }[];
}

/** The "timings" lines of the agent log from byte `from` on, and where the log ends now. */
export function timingsSince(instance: string, from: number): { timings: Timing[]; end: number } {
  const buf = readFileSync(instancePaths(instance).agentLog);
  const timings: Timing[] = [];
  for (const line of buf.subarray(from).toString("utf8").split("\n")) {
    if (!line.includes('"timings"')) continue;
    try {
      const j = JSON.parse(line) as Timing & { msg: string };
      if (j.msg === "timings") timings.push(j);
    } catch {}
  }
  return { timings, end: buf.length };
}

export const logSize = (instance: string) => readFileSync(instancePaths(instance).agentLog).length;

export interface Row {
  label: string;
  p50: number;
  p95: number;
  n: number;
}

export function row(label: string, xs: number[]): Row {
  const s = summary(xs);
  return { label, p50: Math.round(s.p50 * 10) / 10, p95: Math.round(s.p95 * 10) / 10, n: s.n };
}

/**
 * Per step of one operation: p50/p95 of its milliseconds over the samples (a step missing from a
 * sample counts 0), with the guest round trips in it; "CLI and socket" is the CLI's wall time
 * less the agent's own.
 */
export function stepRows(prefix: string, wall: number[], timings: Timing[]): Row[] {
  const names: string[] = [];
  for (const t of timings) for (const s of t.steps) if (!names.includes(s.step)) names.push(s.step);
  const rows = [row(`${prefix} CLI wall`, wall)];
  if (timings.length === wall.length)
    rows.push(
      row(
        `${prefix}   CLI start + socket`,
        wall.map((w, i) => w - timings[i]!.totalMs),
      ),
    );
  rows.push(
    row(
      `${prefix}   agent total`,
      timings.map((t) => t.totalMs),
    ),
  );
  for (const n of names) {
    const of = (t: Timing) => t.steps.filter((s) => s.step === n);
    const ms = timings.map((t) => of(t).reduce((a, s) => a + s.ms, 0));
    const cmds = timings.map((t) => of(t).reduce((a, s) => a + s.guestCmds, 0));
    const r = row(`${prefix}   ${n}`, ms);
    r.label += ` [guest cmds ${summary(cmds).p50}]`;
    rows.push(r);
  }
  return rows;
}

export function printRows(title: string, rows: Row[], unit = "ms"): void {
  console.log(`\n${title}`);
  for (const r of rows) {
    console.log(`  ${r.label.padEnd(64)} p50 ${String(r.p50).padStart(8)} ${unit}   p95 ${String(r.p95).padStart(8)} ${unit}   (n=${r.n})`);
  }
}
