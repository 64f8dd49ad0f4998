// The instances pane: one row per instance with driver, state, accelerator, mounts, hot-plug
// slots and usable transports, plus a detail line saying why a transport is not offered.
import { Box, Text } from "ink";
import type { InstanceSummary } from "../src/agent/api.ts";
import { availableTransports, columnWidths, fit, STATE_COLORS, truncate, unavailableReasons, type ColumnSpec } from "./format.ts";
import { windowStart } from "./list-selection.ts";
import { Pane } from "./pane.tsx";
import type { InstancesState } from "./instances-pane-state.ts";

const SPECS: ColumnSpec[] = [
  { min: 1 }, // selection marker
  { min: 8, flex: 2, max: 24 }, // NAME
  { min: 6, flex: 1, max: 10 }, // DRIVER
  { min: 8 }, // STATE
  { min: 5, flex: 1, max: 8 }, // ACCEL
  { min: 6 }, // MOUNTS
  { min: 5 }, // SLOTS
  { min: 10, flex: 3 }, // TRANSPORTS
];

function instanceColumns(inner: number): number[] {
  return columnWidths(inner, SPECS);
}

function Row({ inst, w, selected, focused }: { inst: InstanceSummary; w: number[]; selected: boolean; focused: boolean }) {
  const [m, name, driver, state, accel, mounts, slots, transports] = w as [number, number, number, number, number, number, number, number];
  return (
    <Text wrap="truncate-end" inverse={selected && focused} bold={selected}>
      {fit(selected ? "›" : " ", m)} {fit(inst.name, name)} {fit(inst.driver, driver)} <Text color={STATE_COLORS[inst.state]}>{fit(inst.state, state)}</Text>{" "}
      {fit(inst.accel ?? "-", accel)} {fit(String(inst.mounts), mounts)} {fit(`${inst.slots.used}/${inst.slots.total}`, slots)}{" "}
      {fit(availableTransports(inst.transports), transports)}
    </Text>
  );
}

export interface InstancesPaneProps {
  state: InstancesState;
  focused: boolean;
  width: number;
  /** Rows for instance rows (the pane adds its border and header). */
  rows: number;
}

export function InstancesPane({ state, focused, width, rows }: InstancesPaneProps) {
  const inner = width - 2;
  const w = instanceColumns(inner);
  const header = ["", "NAME", "DRIVER", "STATE", "ACCEL", "MOUNTS", "SLOTS", "TRANSPORTS"].map((h, i) => fit(h, w[i]!)).join(" ");
  const sel = state.items.findIndex((i) => i.name === state.selected);
  const start = windowStart(state.items.length, sel, rows);
  const shown = state.items.slice(start, start + rows);
  const more = state.items.length > rows ? ` ${sel + 1}/${state.items.length}` : "";
  return (
    <Pane title={`Instances${more}`} focused={focused} width={width} height={rows + 3}>
      <Text dimColor wrap="truncate-end">
        {header}
      </Text>
      {!state.loaded ? <Text dimColor> Loading instances…</Text> : null}
      {state.loaded && state.items.length === 0 ? (
        <Text dimColor wrap="truncate-end">
          {" "}
          No instances yet. Start one with: hotmount vm start NAME
        </Text>
      ) : null}
      {shown.map((inst) => (
        <Row key={inst.name} inst={inst} w={w} selected={inst.name === state.selected} focused={focused} />
      ))}
    </Pane>
  );
}

/** The line under the pane: why a transport is not offered, else how to reach the guest. */
export function InstanceDetail({ inst, width }: { inst: InstanceSummary | undefined; width: number }) {
  if (!inst) return <Box height={1} flexShrink={0} />;
  const why = unavailableReasons(inst.transports);
  const ssh = inst.ssh ? `ssh ${inst.ssh.user}@${inst.ssh.host} -p ${inst.ssh.port}` : "";
  const all = inst.transports.length === 0 ? "transports not known yet" : "all transports available";
  const text = why ? `not offered: ${why}` : ssh ? `${all} · ${ssh}` : all;
  return (
    <Box height={1} width={width} flexShrink={0}>
      <Text wrap="truncate-end" color={why ? "yellow" : "gray"}>
        {` ${truncate(`${inst.name}: ${text}`, width - 2)}`}
      </Text>
    </Box>
  );
}
