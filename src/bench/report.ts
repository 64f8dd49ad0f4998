// The benchmark's result: its JSON shape, the ratios the issue asks for, and the terminal tables.
// Pure (no I/O), so test/vm/bench.test.ts checks it without a VM.
import type { Summary } from "./stats.ts";
import { percentile } from "./stats.ts";
import { METRICS, type Metric, type WorkloadResult } from "./workload.ts";

export const SOURCES = ["host", "virtiofs-static", "virtiofs", "9p", "reverse-sshfs"] as const;
export type SourceName = (typeof SOURCES)[number];

export const SOURCE_LABEL: Record<SourceName, string> = {
  host: "host (no VM)",
  "virtiofs-static": "virtiofs, static",
  virtiofs: "virtiofs, hot-plugged",
  "9p": "9p, hot-plugged",
  "reverse-sshfs": "reverse-sshfs",
};

export type Samples = Record<Metric, number[]>;

export interface SourceResult {
  name: SourceName;
  /** Where the workload ran: a host folder, or a guest mount point. */
  path: string;
  /** The guest's /proc/mounts line (options as the kernel applied them); absent for the host. */
  procMounts?: string;
  /** The FUSE bdi's read_ahead_kb (virtiofs, sshfs), as the guest had it. */
  readAheadKb?: number;
  /** Nanoseconds of every run of each step, in run order. */
  samples: Samples;
  /** Median over the samples, nanoseconds per step. */
  medianNs: Record<Metric, number>;
}

export interface LatencyResult {
  type: "virtiofs" | "9p" | "reverse-sshfs";
  addMs: Summary;
  removeMs: Summary;
  samples: { addMs: number[]; removeMs: number[] };
}

export interface BenchReport {
  version: 1;
  date: string;
  accel: string;
  command: string;
  host: { kernel: string; cpus: number; cpuModel: string; qemu: string; virtiofsd: string };
  instance: { name: string; memoryMiB: number; cpus: number };
  params: { sizeMiB: number; files: number; fileBytes: number; treeEntries: number; reps: number; otherReps: number; cycles: number };
  caches: { guest: string; host: string };
  tuning: Record<string, unknown>;
  sources: SourceResult[];
  skipped: { name: SourceName; why: string }[];
  latency: LatencyResult[];
  ratios: Ratios;
  notes: string[];
}

export interface Ratios {
  /**
   * static time / hot time per metric: 1 means the hot-plugged share is as fast. With as many
   * samples of each (sample i of both taken back to back), the median of the per-pair ratios,
   * which cancels load that changes between pairs; else the ratio of the medians.
   */
  hotOverStatic: Partial<Record<Metric, number>> | null;
  /** host time / source time per metric: the source's speed as a fraction of the host's. */
  overHost: Partial<Record<SourceName, Record<Metric, number>>>;
  /** The per-pair static/hot ratios behind hotOverStatic (their spread is the noise). */
  hotOverStaticPairs: Partial<Record<Metric, number[]>> | null;
}

export function samplesOf(runs: WorkloadResult[]): Samples {
  return Object.fromEntries(METRICS.map((m) => [m, runs.map((r) => r.ns[m])])) as Samples;
}

export function medianNs(samples: Samples): Record<Metric, number> {
  return Object.fromEntries(METRICS.map((m) => [m, percentile(samples[m], 50)])) as Record<Metric, number>;
}

export function computeRatios(sources: SourceResult[]): Ratios {
  const by = new Map(sources.map((s) => [s.name, s]));
  const rel = (num: SourceResult, den: SourceResult) =>
    Object.fromEntries(METRICS.map((m) => [m, num.medianNs[m] / den.medianNs[m]])) as Record<Metric, number>;
  const st = by.get("virtiofs-static");
  const hot = by.get("virtiofs");
  const host = by.get("host");
  const overHost: Ratios["overHost"] = {};
  if (host) for (const s of sources) if (s.name !== "host") overHost[s.name] = rel(host, s);
  let hotOverStatic: Ratios["hotOverStatic"] = null;
  let hotOverStaticPairs: Ratios["hotOverStaticPairs"] = null;
  if (st && hot) {
    hotOverStatic = rel(st, hot);
    hotOverStaticPairs = {};
    for (const m of METRICS) {
      const a = st.samples[m];
      const b = hot.samples[m];
      if (a.length !== b.length || a.length < 2) continue;
      hotOverStaticPairs[m] = a.map((x, i) => x / b[i]!);
      hotOverStatic[m] = percentile(hotOverStaticPairs[m], 50);
    }
  }
  return { hotOverStatic, overHost, hotOverStaticPairs };
}

/** Megabytes (10^6) per second for a file of sizeMiB read or written in ns. */
export function mbps(sizeMiB: number, ns: number): number {
  return (sizeMiB * 1048576) / 1e6 / (ns / 1e9);
}

function fmtMbps(v: number): string {
  return v >= 100 ? v.toFixed(0) : v.toFixed(1);
}

function fmtS(ns: number): string {
  const s = ns / 1e9;
  return s >= 10 ? s.toFixed(1) : s.toFixed(2);
}

export const fmtRatio = (r: number | undefined) => (r === undefined || !Number.isFinite(r) ? "-" : r >= 10 ? r.toFixed(0) : r.toFixed(2));

/** A plain aligned table (same look as the CLI's other tables). */
export function textTable(headers: string[], rows: string[][], rightAlignFrom = 1): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i >= rightAlignFrom ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(headers), ...rows.map(line)].join("\n") + "\n";
}

export function throughputRows(r: BenchReport): string[][] {
  return r.sources.map((s) => {
    const m = s.medianNs;
    const o = r.ratios.overHost[s.name];
    return [
      SOURCE_LABEL[s.name],
      fmtMbps(mbps(r.params.sizeMiB, m.seqRead)),
      fmtMbps(mbps(r.params.sizeMiB, m.seqWrite)),
      fmtS(m.create),
      fmtS(m.stat),
      fmtS(m.read),
      fmtS(m.delete),
      fmtS(m.find),
      s.name === "host" ? "1" : fmtRatio(o?.seqRead),
      s.name === "host" ? "1" : fmtRatio(o?.seqWrite),
    ];
  });
}

export const THROUGHPUT_HEADERS = ["SOURCE", "READ MB/s", "WRITE MB/s", "CREATE s", "STAT s", "READ s", "DELETE s", "FIND s", "READ/host", "WRITE/host"];

/** Everything a person needs on the terminal: throughput, small files, latency, the ratios. */
export function formatReport(r: BenchReport): string {
  const out: string[] = [];
  out.push(`hotmount bench ${r.instance.name} · ${r.date} · ${r.accel.toUpperCase()} · ${r.instance.cpus} vCPU, ${r.instance.memoryMiB} MiB guest`);
  out.push(
    `large file ${r.params.sizeMiB} MiB (dd bs=1M); ${r.params.files} files of ${r.params.fileBytes} B; find over ${r.params.treeEntries} entries; median of ${r.params.reps} run(s), ${r.params.otherReps} for 9p and reverse-sshfs`,
  );
  out.push("");
  out.push(textTable(THROUGHPUT_HEADERS, throughputRows(r)));
  for (const s of r.skipped) out.push(`skipped ${s.name}: ${s.why}`);
  if (r.ratios.hotOverStatic) {
    const h = r.ratios.hotOverStatic;
    const spread = (m: Metric) => {
      const p = r.ratios.hotOverStaticPairs?.[m];
      return p ? ` (${p.length} pairs, ${fmtRatio(Math.min(...p))}-${fmtRatio(Math.max(...p))})` : "";
    };
    out.push(`hot / static virtiofs: read ${fmtRatio(h.seqRead)}${spread("seqRead")}, write ${fmtRatio(h.seqWrite)}${spread("seqWrite")}; 1 = as fast`);
    out.push(
      `  create ${fmtRatio(h.create)}, stat ${fmtRatio(h.stat)}, read small ${fmtRatio(h.read)}, delete ${fmtRatio(h.delete)}, find ${fmtRatio(h.find)}`,
    );
  }
  if (r.latency.length) {
    out.push("");
    out.push(
      textTable(
        ["HOT-PLUG", "ADD p50 ms", "ADD p95 ms", "REMOVE p50 ms", "REMOVE p95 ms", "N"],
        r.latency.map((l) => [l.type, l.addMs.p50.toFixed(0), l.addMs.p95.toFixed(0), l.removeMs.p50.toFixed(0), l.removeMs.p95.toFixed(0), String(l.addMs.n)]),
      ),
    );
  }
  out.push(`caches: guest ${r.caches.guest}; host ${r.caches.host}`);
  for (const n of r.notes) out.push(`note: ${n}`);
  return out.join("\n") + "\n";
}
