// The bottom line: the keys that work right now, from the key table. When the terminal is narrow
// the least useful keys drop out first; help and quit always stay.
import { Box, Text } from "ink";
import { Fragment } from "react";
import type { AppState } from "./app-state.ts";
import { cells } from "./format.ts";
import { footerHints, KEY_ROWS, type KeyHint, type KeyRow, type Scope } from "./keymap.ts";

/** The scopes the footer advertises for what is on screen (all fields of the form at once). */
function footerScopes(s: AppState): Scope[] {
  const m = s.modal;
  switch (m.kind) {
    case "help":
      return ["help"];
    case "add":
      return ["add-host", "add", "add-type"];
    case "remove":
      return m.confirm.phase === "busy" ? ["remove-busy"] : m.confirm.phase === "failed" ? ["remove-failed"] : ["remove"];
    case "stop":
      return ["stop"];
    case "log":
      return ["log"];
    case "none":
      return [s.focus, "list", "main"];
  }
}

/** The footer's keys for what is on screen now, most useful first. */
export function footerKeys(s: AppState): KeyHint[] {
  if (s.modal.kind === "remove" && s.modal.confirm.phase === "working") return [{ keys: "", label: "removing…" }];
  const scopes = footerScopes(s);
  const shown = (r: KeyRow) => scopes.includes(r.scope) && (r.pane === undefined || r.pane === s.focus);
  return footerHints(KEY_ROWS.filter(shown));
}

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
