// A bordered pane with its title set into the top border (like lazygit), drawn to an exact
// height so the screen layout never shifts as lists grow or shrink.
import { Box, Text } from "ink";
import type { ReactNode } from "react";
import { cells, truncate } from "./format.ts";

export interface PaneProps {
  title: string;
  focused: boolean;
  width: number;
  /** Total rows including both borders. */
  height: number;
  accent?: string;
  children?: ReactNode;
}

export function Pane({ title, focused, width, height, accent, children }: PaneProps) {
  const color = accent ?? (focused ? "cyan" : "gray");
  const label = truncate(title, Math.max(0, width - 6));
  const rule = "─".repeat(Math.max(0, width - 5 - cells(label)));
  return (
    <Box flexDirection="column" width={width} height={height} flexShrink={0}>
      <Text color={color} wrap="truncate-end">
        {"╭─ "}
        <Text bold={focused} color={focused ? color : undefined}>
          {label}
        </Text>
        {" " + rule + "╮"}
      </Text>
      <Box borderStyle="round" borderTop={false} borderColor={color} flexDirection="column" width={width} height={Math.max(1, height - 1)} overflow="hidden">
        {children}
      </Box>
    </Box>
  );
}
