// The benchmark chart: small multiples (one panel per measurement, one bar per source), written as
// plain SVG so it needs no dependency and renders on GitHub. Pure: report in, text out.
import { type BenchReport, mbps, SOURCE_LABEL, type SourceName } from "./report.ts";
import type { Metric } from "./workload.ts";

const COLOR: Record<SourceName, string> = {
  host: "#8c8c8c",
  "virtiofs-static": "#1b4f8a",
  virtiofs: "#4c9be8",
  "9p": "#2e9e4f",
  "reverse-sshfs": "#e8832a",
};

interface Bar {
  label: string;
  color: string;
  value: number;
  /** Drawn as a tick over the bar (latency p95). */
  tick?: number;
}

interface Panel {
  title: string;
  unit: string;
  higherIsBetter: boolean;
  bars: Bar[];
}

const PANEL_W = 330;
const BAR_H = 14;
const BAR_GAP = 5;
const LABEL_W = 0; // bars are identified by colour (legend), values printed at their end
const COLS = 3;

export function esc(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&#39;" })[c]!);
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return "-";
  if (v >= 100) return v.toFixed(0);
  if (v >= 10) return v.toFixed(1);
  if (v >= 0.01 || v === 0) return v.toFixed(2);
  return v.toPrecision(1);
}

export function panels(r: BenchReport): Panel[] {
  const src = r.sources;
  const seconds = (m: Metric) => src.map((s) => ({ label: SOURCE_LABEL[s.name], color: COLOR[s.name], value: s.medianNs[m] / 1e9 }));
  const out: Panel[] = [
    {
      title: `Sequential read, ${r.params.sizeMiB} MiB`,
      unit: "MB/s",
      higherIsBetter: true,
      bars: src.map((s) => ({ label: SOURCE_LABEL[s.name], color: COLOR[s.name], value: mbps(r.params.sizeMiB, s.medianNs.seqRead) })),
    },
    {
      title: `Sequential write, ${r.params.sizeMiB} MiB`,
      unit: "MB/s",
      higherIsBetter: true,
      bars: src.map((s) => ({ label: SOURCE_LABEL[s.name], color: COLOR[s.name], value: mbps(r.params.sizeMiB, s.medianNs.seqWrite) })),
    },
    { title: `find over ${r.params.treeEntries} entries`, unit: "s", higherIsBetter: false, bars: seconds("find") },
    { title: `Create ${r.params.files} files`, unit: "s", higherIsBetter: false, bars: seconds("create") },
    { title: `Stat ${r.params.files} files`, unit: "s", higherIsBetter: false, bars: seconds("stat") },
    { title: `Read ${r.params.files} files`, unit: "s", higherIsBetter: false, bars: seconds("read") },
    { title: `Delete ${r.params.files} files`, unit: "s", higherIsBetter: false, bars: seconds("delete") },
  ];
  const lat = (k: "addMs" | "removeMs") => r.latency.map((l) => ({ label: l.type, color: COLOR[l.type], value: l[k].p50, tick: l[k].p95 }));
  if (r.latency.length) {
    const n = r.latency[0]!.addMs.n;
    out.push({ title: `Hot-plug add, ${n} cycles (bar p50, tick p95)`, unit: "ms", higherIsBetter: false, bars: lat("addMs") });
    out.push({ title: `Hot-plug remove, ${n} cycles (bar p50, tick p95)`, unit: "ms", higherIsBetter: false, bars: lat("removeMs") });
  }
  return out;
}

/** Log scale when the bars span more than 30x (host page cache vs sshfs), else linear. */
function scaleFor(bars: Bar[], width: number): { x: (v: number) => number; log: boolean } {
  const vals = bars.flatMap((b) => [b.value, b.tick ?? b.value]).filter((v) => v > 0 && Number.isFinite(v));
  const max = Math.max(...vals, 1e-9);
  const min = Math.min(...vals, max);
  if (max / min > 30) {
    const lo = Math.log10(min) - 0.3;
    const hi = Math.log10(max);
    return { log: true, x: (v) => (v > 0 ? (Math.max(0, Math.log10(v) - lo) / (hi - lo)) * width : 0) };
  }
  return { log: false, x: (v) => (Math.max(0, v) / max) * width };
}

function panelSvg(p: Panel, x0: number, y0: number): string {
  const plotW = PANEL_W - LABEL_W - 70;
  const { x, log } = scaleFor(p.bars, plotW);
  const parts: string[] = [];
  const sub = `${p.unit}, ${p.higherIsBetter ? "higher" : "lower"} is better${log ? ", log scale" : ""}`;
  parts.push(`<text x="${x0}" y="${y0 + 12}" class="t">${esc(p.title)}</text>`);
  parts.push(`<text x="${x0}" y="${y0 + 25}" class="s">${esc(sub)}</text>`);
  p.bars.forEach((b, i) => {
    const y = y0 + 34 + i * (BAR_H + BAR_GAP);
    const w = Math.max(1, x(b.value));
    parts.push(
      `<rect x="${x0 + LABEL_W}" y="${y}" width="${w.toFixed(1)}" height="${BAR_H}" fill="${b.color}"><title>${esc(`${b.label}: ${fmt(b.value)} ${p.unit}`)}</title></rect>`,
    );
    let end = w;
    if (b.tick !== undefined && Number.isFinite(b.tick)) {
      const tx = x0 + LABEL_W + x(b.tick);
      parts.push(`<line x1="${tx.toFixed(1)}" y1="${y - 2}" x2="${tx.toFixed(1)}" y2="${y + BAR_H + 2}" class="k"/>`);
      end = Math.max(end, x(b.tick));
    }
    const label = b.tick !== undefined ? `${fmt(b.value)} / ${fmt(b.tick)}` : fmt(b.value);
    parts.push(`<text x="${(x0 + LABEL_W + end + 4).toFixed(1)}" y="${y + BAR_H - 3}" class="v">${esc(label)}</text>`);
  });
  return parts.join("\n");
}

export function panelHeight(p: Panel): number {
  return 34 + p.bars.length * (BAR_H + BAR_GAP) + 16;
}

export function chartSvg(r: BenchReport): string {
  const ps = panels(r);
  const rowH = Math.max(...ps.map(panelHeight));
  const rows = Math.ceil(ps.length / COLS);
  const W = COLS * PANEL_W + 20;
  const headH = 66;
  const H = headH + rows * rowH + 34;
  const legend = r.sources.map((s, i) => {
    const lx = 10 + i * 195;
    return `<rect x="${lx}" y="44" width="12" height="12" fill="${COLOR[s.name]}"/><text x="${lx + 16}" y="54" class="s">${esc(SOURCE_LABEL[s.name])}</text>`;
  });
  const body = ps.map((p, i) => panelSvg(p, 10 + (i % COLS) * PANEL_W, headH + Math.floor(i / COLS) * rowH));
  const title = `hotmount bench · ${r.date.slice(0, 10)} · ${r.accel.toUpperCase()} · ${r.instance.cpus} vCPU, ${r.instance.memoryMiB} MiB guest · median of ${r.params.reps} runs (9p, sshfs: ${r.params.otherReps})`;
  const foot =
    r.accel === "tcg"
      ? "TCG: the guest CPU is emulated, so every guest page copy is slow; under KVM the ranking between transports differs."
      : "KVM: hardware virtualization; figures from TCG hosts rank the transports differently.";
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, -apple-system, Segoe UI, sans-serif">`,
    `<style>.h{font-size:15px;font-weight:600;fill:#222}.t{font-size:12px;font-weight:600;fill:#222}.s{font-size:10.5px;fill:#555}.v{font-size:10.5px;fill:#222}.k{stroke:#222;stroke-width:1.5}</style>`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="22" class="h">${esc(title)}</text>`,
    `<text x="10" y="37" class="s">${esc(`guest caches dropped before each step; host page cache ${r.caches.host.startsWith("kept") ? "kept (see the JSON)" : "dropped before each host step"}; writes end at close, no fsync`)}</text>`,
    ...legend,
    ...body,
    `<text x="10" y="${H - 12}" class="s">${esc(foot)}</text>`,
    `</svg>`,
    "",
  ].join("\n");
}
