// State of the agent log viewer. The scroll position counts from the bottom, so 0 means
// "follow": new lines stay in view, as with tail -f.
import type { ErrorView } from "./error-view.ts";

export interface AgentLogState {
  instance: string;
  lines: string[];
  /** Lines between the bottom of the view and the end of the log. */
  fromBottom: number;
  loading: boolean;
  error: ErrorView | null;
}

export type AgentLogAction =
  | { type: "log/loaded"; instance: string; lines: string[] }
  | { type: "log/failed"; instance: string; error: ErrorView }
  | { type: "log/scroll"; delta: number; viewRows: number };

export function createAgentLogState(instance: string): AgentLogState {
  return { instance, lines: [], fromBottom: 0, loading: true, error: null };
}

/** The furthest the view can scroll up: the first line at the top. */
export function maxFromBottom(lines: number, viewRows: number): number {
  return Math.max(0, lines - Math.max(1, viewRows));
}

export function agentLogReducer(s: AgentLogState, a: AgentLogAction): AgentLogState {
  switch (a.type) {
    case "log/loaded":
      if (a.instance !== s.instance) return s;
      return { ...s, lines: a.lines, loading: false, error: null };
    case "log/failed":
      if (a.instance !== s.instance) return s;
      return { ...s, loading: false, error: a.error };
    case "log/scroll": {
      // Positive delta scrolls down (towards the end), like ↓ and PgDn.
      const max = maxFromBottom(s.lines.length, a.viewRows);
      const start = Math.min(s.fromBottom, max);
      const next = a.delta === Infinity ? 0 : a.delta === -Infinity ? max : start - a.delta;
      return { ...s, fromBottom: Math.min(max, Math.max(0, next)) };
    }
  }
}

/** The lines to draw in a view of `rows` rows. */
export function visibleLogLines(s: AgentLogState, rows: number): { lines: string[]; first: number } {
  const max = maxFromBottom(s.lines.length, rows);
  const end = s.lines.length - Math.min(s.fromBottom, max);
  const first = Math.max(0, end - rows);
  return { lines: s.lines.slice(first, end), first };
}
