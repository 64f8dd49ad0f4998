// The mounts pane for the selected instance: host path, guest path, type, rw/ro, watch, state,
// age, and a detail line for the selected mount (its error and hint when it failed, else its
// device and watch details; a watch warning in yellow).
import { StatusMessage } from "@inkjs/ui";
import { Box, Text } from "ink";
import type { InstanceSummary, Mount } from "../src/agent/api.ts";
import { formatAge } from "../src/core/duration.ts";
import { columnWidths, fit, STATE_COLORS, tildify, transportLabel, truncate, type ColumnSpec } from "./format.ts";
import { windowStart } from "./list-selection.ts";
import { Pane } from "./pane.tsx";
import { watchView, type MountsState } from "./mounts-pane-state.ts";
import { keysFor } from "./keymap.ts";

const SPECS: ColumnSpec[] = [
  { min: 1 }, // selection marker
  { min: 10, flex: 1 }, // HOST PATH
  { min: 10, flex: 1 }, // GUEST PATH
  { min: 8 }, // TYPE (virtiofs; reverse-sshfs shows as sshfs)
  { min: 4 }, // MODE
  { min: 6 }, // WATCH (watch, off, watch!)
  { min: 8 }, // STATE
  { min: 4 }, // AGE
];

export interface MountsPaneProps {
  state: MountsState;
  instance: InstanceSummary | undefined;
  focused: boolean;
  width: number;
  rows: number;
  now: number;
  home: string;
}

function emptyText(state: MountsState, inst: InstanceSummary | undefined): { text: string; color?: string } {
  if (!inst) return { text: "Select an instance." };
  if (inst.state !== "running" && inst.state !== "starting") return { text: `${inst.name} is ${inst.state}. Press ${keysFor("main", "start")} to start it.` };
  if (state.error) return { text: `${state.error.message}${state.error.hint ? ` — ${state.error.hint}` : ""}`, color: "red" };
  if (!state.loaded) return { text: "Loading mounts…" };
  return { text: `No mounts. Press ${keysFor("main", "add")} to add one.` };
}

export function MountsPane({ state, instance, focused, width, rows, now, home }: MountsPaneProps) {
  const w = columnWidths(width - 2, SPECS);
  const header = ["", "HOST PATH", "GUEST PATH", "TYPE", "MODE", "WATCH", "STATE", "AGE"]
    .map((h, i) => fit(h, w[i]!, "end", i === 7 ? "right" : "left"))
    .join(" ");
  const sel = state.items.findIndex((m) => m.id === state.selected);
  const start = windowStart(state.items.length, sel, rows);
  const shown = state.items.slice(start, start + rows);
  const count = state.items.length > rows ? ` ${sel + 1}/${state.items.length}` : state.items.length > 0 ? ` (${state.items.length})` : "";
  const empty = state.items.length === 0 ? emptyText(state, instance) : null;
  const [mk, host, guest, type, mode, watch, st, age] = w as [number, number, number, number, number, number, number, number];
  return (
    <Pane title={`Mounts${instance ? ` · ${instance.name}` : ""}${count}`} focused={focused} width={width} height={rows + 3}>
      <Text dimColor wrap="truncate-end">
        {header}
      </Text>
      {empty ? (
        <Text wrap="truncate-end" color={empty.color} dimColor={!empty.color}>
          {` ${truncate(empty.text, width - 4)}`}
        </Text>
      ) : null}
      {shown.map((m) => {
        const selected = m.id === state.selected;
        const wv = watchView(m);
        return (
          <Text key={m.id} wrap="truncate-end" inverse={selected && focused} bold={selected}>
            {fit(selected ? "›" : " ", mk)} {fit(tildify(m.hostPath, home), host, "middle")} {fit(m.mountPoint, guest, "middle")}{" "}
            {fit(transportLabel(m.type), type)} {fit(m.writable ? "rw" : "ro", mode)}{" "}
            <Text color={wv.color} dimColor={!wv.color}>
              {fit(wv.label, watch)}
            </Text>{" "}
            <Text color={STATE_COLORS[m.state]}>{fit(m.state, st)}</Text> {fit(formatAge(m.createdAt, now), age, "end", "right")}
          </Text>
        );
      })}
    </Pane>
  );
}

/** The line under the pane: the selected mount's error, else its device details. */
export function MountDetail({ mount, width }: { mount: Mount | undefined; width: number }) {
  if (!mount) return <Box height={1} flexShrink={0} />;
  if (mount.error) {
    const e = mount.error;
    return (
      <Box height={1} width={width} flexShrink={0}>
        <Box paddingLeft={1}>
          <StatusMessage variant="error">{truncate(`${e.message}${e.hint ? ` — ${e.hint}` : ""}`, width - 4)}</StatusMessage>
        </Box>
      </Box>
    );
  }
  const wv = watchView(mount);
  if (wv.color) {
    return (
      <Box height={1} width={width} flexShrink={0}>
        <Text wrap="truncate-end" color={wv.color}>{` ! ${truncate(wv.detail, width - 4)}`}</Text>
      </Box>
    );
  }
  const bits = [
    mount.id,
    mount.type,
    mount.tag ? `tag ${mount.tag}` : "",
    mount.slot ? `slot ${mount.slot}` : "",
    mount.persist ? "persists across restarts" : "",
    wv.detail,
  ].filter(Boolean);
  return (
    <Box height={1} width={width} flexShrink={0}>
      <Text wrap="truncate-end" dimColor>{` ${truncate(`${mount.hostPath} → ${mount.mountPoint} · ${bits.join(" · ")}`, width - 2)}`}</Text>
    </Box>
  );
}
