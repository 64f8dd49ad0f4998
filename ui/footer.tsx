// The bottom line: the keys that work right now. When the terminal is narrow the least useful
// keys drop out first; help and quit always stay.
import { Box, Text } from "ink";
import { Fragment } from "react";
import { cells } from "./format.ts";
import type { KeyHint } from "./keymap.ts";

function hintWidth(h: KeyHint): number {
  return (h.keys ? cells(h.keys) + 1 : 0) + cells(h.label) + 2;
}

/** Drops hints from just before the last two until the row fits. */
export function fitHints(hints: KeyHint[], width: number): KeyHint[] {
  const out = [...hints];
  const keep = out.length > 2 ? 2 : 0;
  while (out.length > keep && out.reduce((a, h) => a + hintWidth(h), 1) > width) {
    out.splice(Math.max(0, out.length - keep - 1), 1);
  }
  return out;
}

export function Footer({ hints, width }: { hints: KeyHint[]; width: number }) {
  return (
    <Box width={width} height={1} flexShrink={0}>
      <Text wrap="truncate-end">
        {" "}
        {fitHints(hints, width).map((h, i) => (
          <Fragment key={i}>
            {h.keys ? (
              <Text bold color="cyan">
                {h.keys}
              </Text>
            ) : null}
            <Text dimColor>{`${h.keys ? " " : ""}${h.label}  `}</Text>
          </Fragment>
        ))}
      </Text>
    </Box>
  );
}
