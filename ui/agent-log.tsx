// The agent log viewer: the last lines of the instance's agent log, scrollable, refreshed with
// every poll while open.
import { Text } from "ink";
import { ErrorLines } from "./error-lines.tsx";
import { truncate } from "./format.ts";
import { Pane } from "./pane.tsx";
import { visibleLogLines, type AgentLogState } from "./agent-log-state.ts";

export function AgentLog({ state, width, height }: { state: AgentLogState; width: number; height: number }) {
  // Error lines take rows from the log; rows that do not fit would be squeezed, not clipped.
  const errRows = state.error ? (state.error.hint ? 2 : 1) : 0;
  const rows = Math.max(1, height - 2 - errRows);
  const { lines, first } = visibleLogLines(state, rows);
  const total = state.lines.length;
  const where = total > 0 ? ` ${first + 1}-${first + lines.length}/${total}${state.fromBottom === 0 ? " · following" : ""}` : "";
  return (
    <Pane title={`Agent log · ${state.instance}${where}`} focused width={width} height={height}>
      {state.error ? <ErrorLines error={state.error} width={width} wrap={false} /> : null}
      {!state.error && state.loading ? <Text dimColor> Loading the log…</Text> : null}
      {!state.error && !state.loading && total === 0 ? <Text dimColor> The log is empty.</Text> : null}
      {lines.map((l, i) => (
        <Text key={first + i} wrap="truncate-end">
          {truncate(l.replace(/\t/g, "  "), width - 2)}
        </Text>
      ))}
    </Pane>
  );
}

/** Rows of log text the viewer shows for a body of `height` rows. */
export function logViewRows(height: number): number {
  return Math.max(1, height - 2);
}
