// The line(s) above the footer: the running step if any, and under it the last notice or else a
// polling failure (@inkjs/ui's StatusMessage). Errors show their message and, on a second line,
// the hint — never a stack.
import { StatusMessage } from "@inkjs/ui";
import { Box, Text } from "ink";
import { truncate } from "./format.ts";
import { TaskStatus } from "./task-status.tsx";
import type { AppState } from "./app-state.ts";

interface Line {
  variant: "success" | "error";
  text: string;
  hint?: string;
}

function currentLine(s: AppState): Line | null {
  if (s.notice) return { variant: s.notice.kind === "error" ? "error" : "success", text: s.notice.text, hint: s.notice.hint };
  if (s.pollError) return { variant: "error", text: `Cannot list instances: ${s.pollError.message}`, hint: s.pollError.hint };
  return null;
}

/** Rows the status area needs: a running step, then a message and its hint. */
export function statusLines(s: AppState): number {
  const line = currentLine(s);
  const n = (s.tasks.length > 0 ? 1 : 0) + (line ? (line.hint ? 2 : 1) : 0);
  return Math.max(1, n);
}

export function StatusLine({ state, width, clock }: { state: AppState; width: number; clock: () => number }) {
  const task = state.tasks[state.tasks.length - 1];
  const line = currentLine(state);
  return (
    <Box flexDirection="column" height={statusLines(state)} width={width} flexShrink={0}>
      {task ? <TaskStatus task={task} more={state.tasks.length - 1} width={width} clock={clock} /> : null}
      {line ? (
        <Box paddingLeft={1} height={1}>
          <StatusMessage variant={line.variant}>{truncate(line.text, width - 4)}</StatusMessage>
        </Box>
      ) : null}
      {line?.hint ? <Text wrap="truncate-end" dimColor>{`   ${truncate(line.hint, width - 4)}`}</Text> : null}
    </Box>
  );
}
