// Pure text helpers for a fixed-width terminal grid. Widths are display cells (Bun.stringWidth),
// not string lengths, so wide characters and symbols never push a column out of line.
import type { Transport, TransportAvailability } from "../src/core/model.ts";

export const ELLIPSIS = "…";

export function cells(s: string): number {
  return Bun.stringWidth(s);
}

/** Longest prefix of s that fits in w cells. */
function headFit(s: string, w: number): string {
  let out = "";
  let used = 0;
  for (const ch of s) {
    const cw = cells(ch);
    if (used + cw > w) break;
    out += ch;
    used += cw;
  }
  return out;
}

/** Longest suffix of s that fits in w cells. */
function tailFit(s: string, w: number): string {
  const chars = [...s];
  let out = "";
  let used = 0;
  for (let i = chars.length - 1; i >= 0; i--) {
    const ch = chars[i]!;
    const cw = cells(ch);
    if (used + cw > w) break;
    out = ch + out;
    used += cw;
  }
  return out;
}

export type TruncateMode = "end" | "middle" | "start";

/** Shortens s to at most w cells, marking the cut with an ellipsis. */
export function truncate(s: string, w: number, mode: TruncateMode = "end"): string {
  if (w <= 0) return "";
  if (cells(s) <= w) return s;
  if (w === 1) return ELLIPSIS;
  if (mode === "start") return ELLIPSIS + tailFit(s, w - 1);
  if (mode === "middle") {
    const right = Math.floor((w - 1) / 2);
    return headFit(s, w - 1 - right) + ELLIPSIS + tailFit(s, right);
  }
  return headFit(s, w - 1) + ELLIPSIS;
}

/** Exactly w cells: truncated, then padded with spaces. */
export function fit(s: string, w: number, mode: TruncateMode = "end", align: "left" | "right" = "left"): string {
  const t = truncate(s, w, mode);
  const pad = " ".repeat(Math.max(0, w - cells(t)));
  return align === "left" ? t + pad : pad + t;
}

export interface ColumnSpec {
  /** Cells the column needs; a flex column may get more. */
  min: number;
  /** Share of the leftover space; 0 = fixed width. */
  flex?: number;
  max?: number;
}

/**
 * Column widths for a row of `total` cells with one space between columns. When even the
 * minimums do not fit (a narrow terminal), the last columns shrink first, down to zero.
 */
export function columnWidths(total: number, specs: ColumnSpec[]): number[] {
  const gaps = Math.max(0, specs.length - 1);
  const widths = specs.map((s) => s.min);
  let left = total - gaps - widths.reduce((a, b) => a + b, 0);
  if (left < 0) {
    for (let i = widths.length - 1; i >= 0 && left < 0; i--) {
      const take = Math.min(widths[i]!, -left);
      widths[i] = widths[i]! - take;
      left += take;
    }
    return widths;
  }
  // Hand out the leftover by flex share, respecting max, until nothing more can grow.
  for (let round = 0; round < 4 && left > 0; round++) {
    const growable = specs.map((s, i) => ((s.flex ?? 0) > 0 && (s.max === undefined || widths[i]! < s.max) ? i : -1)).filter((i) => i >= 0);
    const shares = growable.reduce((a, i) => a + (specs[i]!.flex ?? 0), 0);
    if (shares === 0) break;
    let given = 0;
    for (const i of growable) {
      const spec = specs[i]!;
      let add = Math.floor((left * (spec.flex ?? 0)) / shares);
      if (spec.max !== undefined) add = Math.min(add, spec.max - widths[i]!);
      widths[i] = widths[i]! + add;
      given += add;
    }
    left -= given;
    if (given === 0) {
      // Rounding left a few cells: give them to the first growable column.
      const i = growable[0]!;
      const room = specs[i]!.max === undefined ? left : Math.min(left, specs[i]!.max! - widths[i]!);
      widths[i] = widths[i]! + room;
      left -= room;
      if (room === 0) break;
    }
  }
  return widths;
}

/** Elapsed time of a running step: 0.4s, 12.3s, 2m05s. */
export function formatElapsed(ms: number): string {
  const s = Math.max(0, ms) / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  return `${m}m${String(Math.floor(s % 60)).padStart(2, "0")}s`;
}

/** Shows the home directory as ~ so host paths keep their informative tail. */
export function tildify(path: string, home: string): string {
  if (home && home !== "/" && (path === home || path.startsWith(home + "/"))) return "~" + path.slice(home.length);
  return path;
}

/** Lima's short alias keeps the column narrow; `sshfs` is accepted back as input. */
export function transportLabel(t: Transport): string {
  return t === "reverse-sshfs" ? "sshfs" : t;
}

export function availableTransports(ts: TransportAvailability[]): string {
  const ok = ts.filter((t) => t.available).map((t) => transportLabel(t.type));
  return ok.length > 0 ? ok.join(" ") : "none";
}

/** Why each unavailable transport is not offered, for the detail line. */
export function unavailableReasons(ts: TransportAvailability[]): string {
  return ts
    .filter((t) => !t.available)
    .map((t) => `${transportLabel(t.type)}: ${t.reason ?? "unavailable"}`)
    .join(" · ");
}

export const STATE_COLORS: Record<string, string> = {
  running: "green",
  ready: "green",
  stopped: "gray",
  starting: "yellow",
  stopping: "yellow",
  adding: "yellow",
  removing: "yellow",
  broken: "red",
  failed: "red",
};
