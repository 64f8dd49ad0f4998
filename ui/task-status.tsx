// A running step: @inkjs/ui's Spinner, the label and current progress step, and elapsed time.
import { Spinner } from "@inkjs/ui";
import { Box, Text } from "ink";
import { formatElapsed, truncate } from "./format.ts";
import type { Task } from "./app-state.ts";

export function TaskStatus({ task, more, width, clock }: { task: Task; more: number; width: number; clock: () => number }) {
  const elapsed = formatElapsed(clock() - task.startedAt);
  const extra = more > 0 ? ` (+${more} more)` : "";
  const text = `${task.label}${task.step ? ` — ${task.step}` : ""}`;
  const room = Math.max(0, width - 4 - elapsed.length - extra.length - 3);
  return (
    <Box height={1} paddingLeft={1}>
      <Spinner label={truncate(text, room)} />
      <Text dimColor wrap="truncate-end">{` · ${elapsed}${extra}`}</Text>
    </Box>
  );
}
