// The one keyboard router of the app. Every key goes through a single handler that reads the
// state as it is at that moment, so a key typed right after one that opens a dialog reaches the
// dialog (per-component input hooks would only switch over after a render). What a key means
// comes from the table in keymap.ts; what it does, from the key handlers of the component on top.
import type { Key } from "ink";
import { addMountFormKeys, addMountScopes } from "./add-mount-form-keys.ts";
import { agentLogKeys } from "./agent-log-keys.ts";
import type { AppActions } from "./app-actions.ts";
import type { AppAction, AppState } from "./app-state.ts";
import { stopPromptKeys } from "./confirm-prompt-keys.ts";
import { instancesPaneKeys } from "./instances-pane-keys.ts";
import { keyIntent, runKey, type KeyHandlers, type KeyHit, type Scope } from "./keymap.ts";
import { mountsPaneKeys } from "./mounts-pane-keys.ts";
import { removeConfirmKeys, removeConfirmScopes } from "./remove-confirm-keys.ts";

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

/** The keys of the main screen that work in either pane. */
const mainKeys: KeyHandlers<"main", AppActions> = {
  main: {
    "switch-pane": (a) => a.switchPane(),
    "to-instances": (a) => a.focus("instances"),
    "to-mounts": (a) => a.focus("mounts"),
    back: (a) => a.back(),
    add: (a) => a.openAdd(),
    start: (a) => void a.start(),
    stop: (a) => a.askStop(),
    log: (a) => a.openLog(),
    refresh: (a) => a.refresh(),
    help: (a) => a.openHelp(),
    quit: (a) => a.quit(),
  },
};

const helpKeys: KeyHandlers<"help", AppActions> = { help: { close: (a) => a.close() } };

/** Finds what a key means in `scopes` and, if anything, runs it with `deps`. */
function route<S extends Scope, D>(handlers: KeyHandlers<S, D>, scopes: readonly S[], input: string, key: Key, deps: () => D): KeyHit<S> | null {
  const hit = keyIntent(scopes, input, key);
  if (hit) runKey(handlers, hit, deps());
  return hit;
}

/**
 * Sends a key to whatever is on top: the open dialog, else the focused pane and then the keys of
 * the main screen. Returns what the key meant, or null if nothing there uses it.
 */
export function routeKey(input: string, key: Key, d: RouterDeps): { scope: Scope; intent: string } | null {
  const s = d.getState();
  const a = d.actions;
  const m = s.modal;
  switch (m.kind) {
    case "add": {
      const deps = { state: m.form, input, dispatch: d.dispatch, complete: a.complete, onSubmit: () => void a.submitAdd(), onCancel: a.close };
      const hit = keyIntent(addMountScopes(m.form), input, key);
      // While the request is out only cancel works: it hides the form, the request carries on.
      if (hit && (!m.form.submitting || (hit.scope === "add" && hit.intent === "cancel"))) runKey(addMountFormKeys, hit, deps);
      return hit;
    }
    case "remove":
      return route(removeConfirmKeys, removeConfirmScopes(m.confirm), input, key, () => ({
        onRemove: (force: boolean) => void a.remove(force),
        onCancel: a.close,
      }));
    case "stop":
      return route(stopPromptKeys, ["stop"], input, key, () => ({ onYes: () => void a.stop(), onNo: a.close }));
    case "log":
      return route(agentLogKeys, ["log"], input, key, () => ({
        dispatch: d.dispatch,
        onClose: a.close,
        onReload: () => void a.reloadLog(),
        viewRows: d.rows().log,
      }));
    case "help":
      return route(helpKeys, ["help"], input, key, () => a);
    case "none": {
      const pane =
        s.focus === "instances"
          ? route(instancesPaneKeys, ["instances", "list"], input, key, () => ({
              dispatch: d.dispatch,
              pageRows: d.rows().instances,
              explainRemove: a.explainRemove,
            }))
          : route(mountsPaneKeys, ["mounts", "list"], input, key, () => ({ dispatch: d.dispatch, pageRows: d.rows().mounts, openRemove: a.openRemove }));
      return pane ?? route(mainKeys, ["main"], input, key, () => a);
    }
  }
}

/** Every component's key handlers, so a test can hold them against the table. */
export const ALL_KEY_HANDLERS = [mainKeys, helpKeys, addMountFormKeys, removeConfirmKeys, stopPromptKeys, agentLogKeys, instancesPaneKeys, mountsPaneKeys];
