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
export const mainKeys: KeyHandlers<"main", AppActions> = {
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

/** The scopes whose keys work now, most specific first: the open dialog, else the focused pane. */
export function activeScopes(s: AppState): Scope[] {
  const m = s.modal;
  switch (m.kind) {
    case "add":
      return addMountScopes(m.form);
    case "remove":
      return removeConfirmScopes(m.confirm);
    case "stop":
      return ["stop"];
    case "log":
      return ["log"];
    case "help":
      return ["help"];
    case "none":
      return [s.focus, "list", "main"];
  }
}

/** Sends a key to whatever is on top; returns what the key meant, or null if nothing uses it. */
export function routeKey(input: string, key: Key, d: RouterDeps): KeyHit | null {
  const s = d.getState();
  const a = d.actions;
  const m = s.modal;
  const hit = keyIntent(activeScopes(s), input, key);
  if (!hit) return null;
  const { scope } = hit;
  if (m.kind === "add" && (scope === "add" || scope === "add-host" || scope === "add-type" || scope === "add-writable" || scope === "text")) {
    // While the request is out only cancel works: it hides the form, the request carries on.
    if (m.form.submitting && !(scope === "add" && hit.intent === "cancel")) return hit;
    const deps = { state: m.form, input, dispatch: d.dispatch, complete: a.complete, onSubmit: () => void a.submitAdd(), onCancel: a.close };
    runKey(addMountFormKeys, hit as KeyHit<typeof scope>, deps);
  } else if (scope === "remove" || scope === "remove-busy" || scope === "remove-failed") {
    runKey(removeConfirmKeys, hit as KeyHit<typeof scope>, { onRemove: (force) => void a.remove(force), onCancel: a.close });
  } else if (scope === "stop") {
    runKey(stopPromptKeys, hit as KeyHit<"stop">, { onYes: () => void a.stop(), onNo: a.close });
  } else if (scope === "log") {
    runKey(agentLogKeys, hit as KeyHit<"log">, { dispatch: d.dispatch, onClose: a.close, onReload: () => void a.reloadLog(), viewRows: d.rows().log });
  } else if (scope === "help") {
    runKey(helpKeys, hit as KeyHit<"help">, a);
  } else if (scope === "main") {
    runKey(mainKeys, hit as KeyHit<"main">, a);
  } else if (s.focus === "instances" && (scope === "instances" || scope === "list")) {
    runKey(instancesPaneKeys, hit as KeyHit<typeof scope>, { dispatch: d.dispatch, pageRows: d.rows().instances, explainRemove: a.explainRemove });
  } else if (s.focus === "mounts" && (scope === "mounts" || scope === "list")) {
    runKey(mountsPaneKeys, hit as KeyHit<typeof scope>, { dispatch: d.dispatch, pageRows: d.rows().mounts, openRemove: a.openRemove });
  }
  return hit;
}

/** Every component's key handlers, so a test can hold them against the table. */
export const ALL_KEY_HANDLERS = [mainKeys, helpKeys, addMountFormKeys, removeConfirmKeys, stopPromptKeys, agentLogKeys, instancesPaneKeys, mountsPaneKeys];
