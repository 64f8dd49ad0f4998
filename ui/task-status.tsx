// A running step: spinner, label, current progress step and elapsed time, updated 10x a second.
import { Text, useAnimation } from "ink";
import { formatElapsed, truncate } from "./format.ts";
import type { Task } from "./app-state.ts";

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

export function TaskStatus({ task, more, width, clock }: { task: Task; more: number; width: number; clock: () => number }) {
  const { frame } = useAnimation({ interval: 100 });
  const elapsed = formatElapsed(clock() - task.startedAt);
  const extra = more > 0 ? ` (+${more} more)` : "";
  const text = `${task.label}${task.step ? ` — ${task.step}` : ""}`;
  const room = Math.max(0, width - 4 - elapsed.length - extra.length - 3);
  return (
    <Text wrap="truncate-end">
      {" "}
      <Text color="yellow">{FRAMES[frame % FRAMES.length]}</Text> {truncate(text, room)}
      <Text dimColor>{` · ${elapsed}${extra}`}</Text>
    </Text>
  );
}
