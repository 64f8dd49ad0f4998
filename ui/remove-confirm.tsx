// The remove dialog: confirm; then, if a guest process holds the mount, the agent's reason and
// the offer to force a lazy unmount.
import { Spinner } from "@inkjs/ui";
import { Box, Text } from "ink";
import { ErrorLines } from "./error-lines.tsx";
import { tildify, truncate } from "./format.ts";
import { YesNo } from "./confirm-prompt.tsx";
import { Pane } from "./pane.tsx";
import type { RemoveConfirmState } from "./remove-confirm-state.ts";
import { keyNames, keysFor } from "./keymap.ts";

export function RemoveConfirm({ state, width, height, home }: { state: RemoveConfirmState; width: number; height: number; home: string }) {
  const w = width - 4;
  const m = state.mount;
  const accent = state.phase === "busy" || state.phase === "failed" ? "red" : "yellow";
  return (
    <Pane title={`Remove mount · ${state.instance}`} focused accent={accent} width={width} height={height}>
      <Text wrap="truncate-end">{` Remove ${truncate(m.mountPoint, w - 8)}`}</Text>
      <Text dimColor wrap="truncate-end">{` host ${truncate(tildify(m.hostPath, home), w - 6)} · ${m.type}`}</Text>
      <Text> </Text>
      {state.phase === "confirm" ? (
        <YesNo lead=" The guest loses access to these files. Remove it? " yes={keyNames("remove", "remove")} no={keyNames("remove", "cancel")} />
      ) : null}
      {state.phase === "working" ? (
        <Box paddingLeft={1}>
          <Spinner label={state.force ? "Forcing a lazy unmount…" : "Removing…"} />
        </Box>
      ) : null}
      {state.error ? <ErrorLines error={state.error} width={width} /> : null}
      {state.phase === "busy" ? (
        <>
          <Text> </Text>
          <Text wrap="wrap">
            {" Press "}
            <Text bold color="red">
              {keysFor("remove-busy", "force")}
            </Text>
            {" to force: a lazy unmount detaches it now; open files keep working until closed."}
          </Text>
          <Text dimColor>{` ${keysFor("remove-busy", "cancel")} keeps the mount.`}</Text>
        </>
      ) : null}
      {state.phase === "failed" ? <Text dimColor>{` ${keysFor("remove-failed", "retry")} retries · ${keysFor("remove-failed", "cancel")} closes`}</Text> : null}
    </Pane>
  );
}
