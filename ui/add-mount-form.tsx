// The add-mount form: host path (Tab completes), guest path (defaults to the host path), a type
// select holding only the transports available now, and a writable toggle.
import { Spinner } from "@inkjs/ui";
import { Box, Text } from "ink";
import { ErrorLines } from "./error-lines.tsx";
import { transportLabel, truncate, unavailableReasons } from "./format.ts";
import { Pane } from "./pane.tsx";
import { TextField } from "./text-field.tsx";
import { defaultMountPoint, offeredTypes, type AddField, type AddMountState } from "./add-mount-form-state.ts";
import { keysFor } from "./keymap.ts";

const LABEL = 13;

function Label({ text, field, current }: { text: string; field: AddField; current: AddField }) {
  const on = field === current;
  return (
    <Box width={LABEL} flexShrink={0}>
      <Text color={on ? "cyan" : undefined} bold={on}>
        {`${on ? "›" : " "} ${text}`}
      </Text>
    </Box>
  );
}

export function AddMountForm({ state, width, height }: { state: AddMountState; width: number; height: number }) {
  const inner = width - 2;
  const valueW = Math.max(4, inner - LABEL - 1);
  const offered = offeredTypes(state.transports);
  const why = unavailableReasons(state.transports);
  const suggested = defaultMountPoint(state);
  return (
    <Pane title={`Add mount · ${state.instance}`} focused width={width} height={height}>
      <Box>
        <Label text="Host path" field="hostPath" current={state.field} />
        <TextField
          state={state.hostPath}
          focused={state.field === "hostPath"}
          width={valueW}
          placeholder={`~/src/project  (${keysFor("add-host", "complete")} completes)`}
        />
      </Box>
      <Box height={1}>
        <Box width={LABEL} flexShrink={0} />
        {state.completions.length > 0 ? (
          <Text dimColor wrap="truncate-end">
            {truncate(state.completions.join("  "), valueW)}
          </Text>
        ) : state.noMatch ? (
          <Text color="yellow">no matching folder</Text>
        ) : null}
      </Box>
      <Box>
        <Label text="Guest path" field="mountPoint" current={state.field} />
        <TextField state={state.mountPoint} focused={state.field === "mountPoint"} width={valueW} placeholder={suggested || "same as the host path"} />
      </Box>
      <Box height={1}>
        <Box width={LABEL} flexShrink={0} />
        <Text dimColor wrap="truncate-end">
          {state.mountPointFollows ? "same as the host path unless you change it" : ""}
        </Text>
      </Box>
      <Box>
        <Label text="Type" field="type" current={state.field} />
        {offered.length === 0 ? (
          <Text color="red">none available</Text>
        ) : (
          <Text wrap="truncate-end">
            {offered.map((t) => (
              <Text key={t} color={t === state.type ? "cyan" : undefined} bold={t === state.type}>
                {`${t === state.type ? "●" : "○"} ${transportLabel(t)}  `}
              </Text>
            ))}
          </Text>
        )}
      </Box>
      <Box height={1}>
        <Box width={LABEL} flexShrink={0} />
        <Text dimColor wrap="truncate-end">
          {why ? `not offered: ${why}` : ""}
        </Text>
      </Box>
      <Box>
        <Label text="Writable" field="writable" current={state.field} />
        <Text>{state.writable ? "[x] yes, read-write (rw)" : "[ ] no, read-only (ro)"}</Text>
      </Box>
      <Box height={1} />
      {state.submitting ? (
        <Box paddingLeft={1}>
          <Spinner label={`Adding the mount… ${keysFor("add", "cancel")} hides this form; the request carries on.`} />
        </Box>
      ) : null}
      {state.error ? <ErrorLines error={state.error} width={width} /> : null}
    </Pane>
  );
}
