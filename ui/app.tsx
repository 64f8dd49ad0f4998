// The root component: lays the screen out to the terminal's exact size and routes the keyboard
// to whatever is on top (a dialog, else the focused pane plus the global keys).
import { Box, Text, useApp, useInput, useWindowSize } from "ink";
import { homedir } from "node:os";
import { useEffect, useMemo, useRef, type ReactNode } from "react";
import type { HotmountClient } from "../src/client/types.ts";
import { AddMountForm } from "./add-mount-form.tsx";
import { AgentLog, logViewRows } from "./agent-log.tsx";
import { createActions } from "./app-actions.ts";
import { ConfirmPrompt } from "./confirm-prompt.tsx";
import { Footer, footerKeys } from "./footer.tsx";
import { Header } from "./header.tsx";
import { HelpOverlay } from "./help-overlay.tsx";
import { InstanceDetail, InstancesPane } from "./instances-pane.tsx";
import { computeLayout } from "./layout.ts";
import { MountDetail, MountsPane } from "./mounts-pane.tsx";
import { nodeReadDir, type ReadDir } from "./path-complete.ts";
import { RemoveConfirm } from "./remove-confirm.tsx";
import { StatusLine, statusLines } from "./status-line.tsx";
import { appReducer, initialAppState } from "./app-state.ts";
import { routeKey, type KeyRows } from "./key-router.ts";
import { selectedInstance } from "./instances-pane-state.ts";
import { selectedMount } from "./mounts-pane-state.ts";
import { usePoll } from "./use-poll.ts";
import { useStore } from "./use-store.ts";
import { keysFor } from "./keymap.ts";

export const MIN_COLUMNS = 50;
export const MIN_ROWS = 14;
const DIALOG_ROWS = 13;

export interface AppProps {
  client: HotmountClient;
  pollMs?: number;
  /** A fixed size (tests); otherwise the terminal's size, following resizes. */
  size?: { columns: number; rows: number };
  clock?: () => number;
  readDir?: ReadDir;
  home?: string;
  cwd?: string;
  /** Subscribes to notes from outside the client's answers (an agent restarted); returns the unsubscribe. */
  notices?: (show: (text: string) => void) => () => void;
}

export function App({ client, pollMs = 1000, size, clock = Date.now, readDir = nodeReadDir, home = homedir(), cwd = process.cwd(), notices }: AppProps) {
  const win = useWindowSize();
  const { columns, rows } = size ?? win;
  const { exit } = useApp();
  const [state, dispatch, getState] = useStore(appReducer, () => initialAppState(clock()));
  const refresh = usePoll(client, getState, dispatch, clock, pollMs);
  const actions = useMemo(
    () => createActions({ client, getState, dispatch, refresh, exit: () => exit(), clock, readDir, home, cwd }),
    [client, getState, dispatch, refresh, exit, clock, readDir, home, cwd],
  );

  useEffect(() => notices?.((text) => dispatch({ type: "notice", notice: { kind: "info", text, at: clock() } })), [notices, dispatch, clock]);

  // A newly selected instance gets its mounts at once rather than on the next tick.
  useEffect(() => {
    if (state.instances.selected !== null) refresh();
  }, [state.instances.selected, refresh]);

  const sl = statusLines(state);
  const layout = computeLayout(columns, rows, state.instances.items.length, sl);
  const modal = state.modal;
  const bodyHeight = layout.bodyRows + 2;
  // A dialog needs about a dozen rows; on a short terminal it takes the whole body instead.
  const dialogFull = layout.lowerRows + 4 < DIALOG_ROWS;
  const lowerHeight = dialogFull ? bodyHeight : layout.lowerRows + 4;
  const tooSmall = columns < MIN_COLUMNS || rows < MIN_ROWS;

  // Paging sizes as last drawn; the router reads them when a key arrives.
  const keyRows = useRef<KeyRows>({ instances: 1, mounts: 1, log: 1 });
  keyRows.current = { instances: layout.instanceRows, mounts: layout.lowerRows, log: logViewRows(bodyHeight) };
  useInput((input, key) => void routeKey(input, key, { getState, dispatch, actions, rows: () => keyRows.current }));

  if (tooSmall) {
    return (
      <Box width={columns} height={rows} flexDirection="column">
        <Text wrap="wrap">{`Terminal too small: ${columns}x${rows}. hotmount needs at least ${MIN_COLUMNS}x${MIN_ROWS}.`}</Text>
        <Text dimColor wrap="wrap">
          {`Enlarge it, or press ${keysFor("main", "quit")} to quit.`}
        </Text>
      </Box>
    );
  }

  const inst = selectedInstance(state.instances);
  let lower: ReactNode;
  if (modal.kind === "add") lower = <AddMountForm state={modal.form} width={columns} height={lowerHeight} />;
  else if (modal.kind === "remove") lower = <RemoveConfirm state={modal.confirm} width={columns} height={lowerHeight} home={home} />;
  else if (modal.kind === "stop") {
    const lines = [`Stop the VM ${modal.instance}?`, "Its mounts are detached when it stops."];
    lower = <ConfirmPrompt title={`Stop VM · ${modal.instance}`} lines={lines} width={columns} height={lowerHeight} />;
  } else {
    lower = (
      <>
        <MountsPane
          state={state.mounts}
          instance={inst}
          focused={state.focus === "mounts"}
          width={columns}
          rows={layout.lowerRows}
          now={state.now}
          home={home}
        />
        <MountDetail mount={selectedMount(state.mounts)} width={columns} />
      </>
    );
  }

  return (
    <Box flexDirection="column" width={columns} height={rows} overflow="hidden">
      <Header state={state} width={columns} />
      {modal.kind === "help" ? (
        <HelpOverlay width={columns} height={bodyHeight} />
      ) : modal.kind === "log" ? (
        <AgentLog state={modal.log} width={columns} height={bodyHeight} />
      ) : dialogFull && modal.kind !== "none" ? (
        lower
      ) : (
        <>
          <InstancesPane state={state.instances} focused={state.focus === "instances"} width={columns} rows={layout.instanceRows} />
          <InstanceDetail inst={inst} width={columns} />
          {lower}
        </>
      )}
      <StatusLine state={state} width={columns} clock={clock} />
      <Footer hints={footerKeys(state)} width={columns} />
    </Box>
  );
}
