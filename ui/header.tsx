// The top line: the product name, what is known, and whether the data is live (a red
// @inkjs/ui Badge when polling fails).
import { Badge } from "@inkjs/ui";
import { Box, Text } from "ink";
import { formatAge } from "../src/core/duration.ts";
import { cells, truncate } from "./format.ts";
import type { AppState } from "./app-state.ts";
import { keysFor } from "./keymap.ts";

export function Header({ state, width }: { state: AppState; width: number }) {
  const n = state.instances.items.length;
  const left = ` hotmount · ${state.instances.loaded ? `${n} instance${n === 1 ? "" : "s"}` : "connecting…"}`;
  const help = `${keysFor("main", "help")} help `;
  const right = state.pollError
    ? " NOT UPDATING  "
    : state.lastPoll !== null
      ? `updated ${formatAge(new Date(state.lastPoll).toISOString(), state.now)} ago · ${help}`
      : help;
  const gap = Math.max(1, width - cells(left) - cells(right));
  return (
    <Box width={width} height={1} flexShrink={0}>
      <Text wrap="truncate-end">
        <Text bold color="cyan">
          {truncate(left, width)}
        </Text>
        {" ".repeat(gap)}
        {state.pollError ? <Badge color="red">not updating</Badge> : <Text color="gray">{truncate(right, Math.max(0, width - cells(left) - 1))}</Text>}
      </Text>
    </Box>
  );
}
