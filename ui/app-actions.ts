// What the keys do, as one object the key router calls: each action is a small function in
// mount-actions.ts, vm-actions.ts or log-actions.ts; the screen-level ones are here. Every call to
// the client lives in those files.
import { clearNotice, withTaskIds, type ActionDeps } from "./action-context.ts";
import type { Focus } from "./app-state.ts";
import { openLog, reloadLog } from "./log-actions.ts";
import { explainRemove, openAdd, openRemove, removeMount, submitAdd } from "./mount-actions.ts";
import { completePath, type Completion } from "./path-complete.ts";
import { askStopVm, startVm, stopVm } from "./vm-actions.ts";

export interface AppActions {
  quit(): void;
  openHelp(): void;
  refresh(): void;
  /** Esc on the main screen: dismiss the notice, else back to the instances pane. */
  back(): void;
  focus(f: Focus): void;
  switchPane(): void;
  close(): void;
  openAdd(): void;
  submitAdd(): Promise<void>;
  complete(input: string): Promise<Completion>;
  openRemove(): void;
  explainRemove(): void;
  remove(force: boolean): Promise<void>;
  start(): Promise<void>;
  askStop(): void;
  stop(): Promise<void>;
  openLog(): void;
  reloadLog(): Promise<void>;
}

export function createActions(deps: ActionDeps): AppActions {
  const c = withTaskIds(deps);
  const focus = (f: Focus) => c.dispatch({ type: "focus", focus: f });
  return {
    quit: () => c.exit(),
    openHelp: () => c.dispatch({ type: "modal/open", modal: { kind: "help" } }),
    refresh: () => {
      clearNotice(c);
      c.refresh();
    },
    back: () => (c.getState().notice ? clearNotice(c) : focus("instances")),
    focus,
    switchPane: () => focus(c.getState().focus === "instances" ? "mounts" : "instances"),
    close: () => c.dispatch({ type: "modal/close" }),
    openAdd: () => openAdd(c),
    submitAdd: () => submitAdd(c),
    complete: (input) => completePath(input, c.readDir, c.home, c.cwd),
    openRemove: () => openRemove(c),
    explainRemove: () => explainRemove(c),
    remove: (force) => removeMount(c, force),
    start: () => startVm(c),
    askStop: () => askStopVm(c),
    stop: () => stopVm(c),
    openLog: () => openLog(c),
    reloadLog: () => reloadLog(c),
  };
}
