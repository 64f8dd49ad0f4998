// Keys of the main screen, and the one keyboard router of the app. Every key goes through a single
// handler that reads the state as it is at that moment, so a key typed right after one that opens
// a dialog reaches the dialog (per-component input hooks would only switch over after a render).
import { useInput, type Key } from "ink";
import type { AppActions } from "./app-actions.ts";
import { handleAddMountFormKey } from "./add-mount-form-keys.ts";
import { handleAgentLogKey } from "./agent-log-keys.ts";
import type { AppAction, AppState } from "./app-state.ts";
import { handleConfirmPromptKey } from "./confirm-prompt-keys.ts";
import { handleInstancesPaneKey } from "./instances-pane-keys.ts";
import { handleMountsPaneKey } from "./mounts-pane-keys.ts";
import { handleRemoveConfirmKey } from "./remove-confirm-keys.ts";

export type MainIntent = "quit" | "help" | "refresh" | "add" | "remove" | "start" | "stop" | "log" | "switch-pane" | "to-instances" | "to-mounts" | "back";

export function mainIntent(input: string, key: Key, s: AppState): MainIntent | null {
  if (key.tab) return "switch-pane";
  if (key.leftArrow) return "to-instances";
  if (key.rightArrow) return "to-mounts";
  if (key.escape) return "back";
  switch (input) {
    case "q":
      return "quit";
    case "?":
      return "help";
    case "r":
      return "refresh";
    case "a":
      return "add";
    case "s":
      return "start";
    case "x":
      return "stop";
    case "l":
      return "log";
    // Delete and d belong to the mounts pane; from the instances pane they say what to do.
    case "d":
      return s.focus === "instances" ? "remove" : null;
  }
  return null;
}

/** Rows of the current layout, for paging. */
export interface KeyRows {
  instances: number;
  mounts: number;
  log: number;
}

export interface RouterDeps {
  getState: () => AppState;
  dispatch: (a: AppAction) => void;
  actions: AppActions;
  rows: () => KeyRows;
}

/** Sends a key to whatever is on top: the open dialog, else the focused pane, then the main keys. */
export function routeKey(input: string, key: Key, d: RouterDeps): void {
  const s = d.getState();
  const a = d.actions;
  const m = s.modal;
  switch (m.kind) {
    case "add":
      return handleAddMountFormKey(input, key, m.form, { dispatch: d.dispatch, complete: a.complete, onSubmit: () => void a.submitAdd(), onCancel: a.close });
    case "remove":
      return handleRemoveConfirmKey(input, key, m.confirm, (force) => void a.remove(force), a.close);
    case "stop":
      return handleConfirmPromptKey(input, key, () => void a.stop(), a.close);
    case "log":
      return handleAgentLogKey(input, key, d.rows().log, { dispatch: d.dispatch, onClose: a.close, onReload: () => void a.reloadLog() });
    case "help":
      // Any key closes the help.
      return a.close();
    case "none":
      break;
  }
  const rows = d.rows();
  const handled =
    s.focus === "instances"
      ? handleInstancesPaneKey(input, key, rows.instances, d.dispatch)
      : handleMountsPaneKey(input, key, rows.mounts, d.dispatch, a.openRemove);
  if (handled) return;
  const intent = mainIntent(input, key, s);
  if (intent) a.run(intent);
}

export function useKeyRouter(deps: RouterDeps): void {
  useInput((input, key) => routeKey(input, key, deps));
}
