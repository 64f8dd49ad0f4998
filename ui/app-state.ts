// The root state of the TUI: the two panes, the open dialog, the running steps and the last
// notice. Pane and dialog reducers live in their own files; this one routes actions to them and
// keeps the mounts pane pointed at the selected instance.
import type { ErrorView } from "./error-view.ts";
import { addMountReducer, type AddMountAction, type AddMountState } from "./add-mount-form-state.ts";
import { agentLogReducer, type AgentLogAction, type AgentLogState } from "./agent-log-state.ts";
import { initialInstancesState, instancesReducer, type InstancesAction, type InstancesState } from "./instances-pane-state.ts";
import { initialMountsState, mountsReducer, type MountsAction, type MountsState } from "./mounts-pane-state.ts";
import { removeConfirmReducer, type RemoveConfirmAction, type RemoveConfirmState } from "./remove-confirm-state.ts";

export type Focus = "instances" | "mounts";

export type Modal =
  | { kind: "none" }
  | { kind: "help" }
  | { kind: "add"; form: AddMountState }
  | { kind: "remove"; confirm: RemoveConfirmState }
  | { kind: "stop"; instance: string }
  | { kind: "log"; log: AgentLogState };

/** A long step (start, stop, add, remove): shown with a spinner and its elapsed time. */
export interface Task {
  id: number;
  instance: string;
  label: string;
  step: string | null;
  startedAt: number;
}

export interface Notice {
  kind: "info" | "error";
  text: string;
  hint?: string;
  at: number;
}

export interface AppState {
  instances: InstancesState;
  mounts: MountsState;
  focus: Focus;
  modal: Modal;
  tasks: Task[];
  notice: Notice | null;
  /** Set while listing instances fails; the last good data stays on screen. */
  pollError: ErrorView | null;
  lastPoll: number | null;
  now: number;
}

export type AppAction =
  | InstancesAction
  | MountsAction
  | AddMountAction
  | RemoveConfirmAction
  | AgentLogAction
  | { type: "focus"; focus: Focus }
  | { type: "modal/open"; modal: Modal }
  | { type: "modal/close" }
  | { type: "task/start"; task: Task }
  | { type: "task/step"; id: number; step: string }
  | { type: "task/end"; id: number }
  | { type: "notice"; notice: Notice | null }
  | { type: "poll/ok"; now: number }
  | { type: "poll/failed"; error: ErrorView; now: number }
  | { type: "tick"; now: number };

/** Info notices fade after this long; errors stay until dismissed or replaced. */
export const NOTICE_MS = 6000;

export function initialAppState(now = 0): AppState {
  return {
    instances: initialInstancesState,
    mounts: initialMountsState,
    focus: "instances",
    modal: { kind: "none" },
    tasks: [],
    notice: null,
    pollError: null,
    lastPoll: null,
    now,
  };
}

function expire(notice: Notice | null, now: number): Notice | null {
  return notice && notice.kind === "info" && now - notice.at > NOTICE_MS ? null : notice;
}

function withInstances(s: AppState, instances: InstancesState): AppState {
  const mounts = mountsReducer(s.mounts, { type: "mounts/show", instance: instances.selected });
  // With no instance there is no mounts pane to be in.
  const focus = instances.selected === null ? "instances" : s.focus;
  return { ...s, instances, mounts, focus };
}

export function appReducer(s: AppState, a: AppAction): AppState {
  switch (a.type) {
    case "instances/loaded":
    case "instances/move":
    case "instances/select":
      return withInstances(s, instancesReducer(s.instances, a));
    case "mounts/show":
    case "mounts/loaded":
    case "mounts/failed":
    case "mounts/move":
    case "mounts/upsert":
    case "mounts/mark-removing":
    case "mounts/removed":
      return { ...s, mounts: mountsReducer(s.mounts, a) };
    case "add/edit":
    case "add/field":
    case "add/cycle-type":
    case "add/toggle-writable":
    case "add/completed":
    case "add/submitting":
    case "add/failed":
      return s.modal.kind === "add" ? { ...s, modal: { kind: "add", form: addMountReducer(s.modal.form, a) } } : s;
    case "remove/start":
    case "remove/failed":
      return s.modal.kind === "remove" ? { ...s, modal: { kind: "remove", confirm: removeConfirmReducer(s.modal.confirm, a) } } : s;
    case "log/loaded":
    case "log/failed":
    case "log/scroll":
      return s.modal.kind === "log" ? { ...s, modal: { kind: "log", log: agentLogReducer(s.modal.log, a) } } : s;
    case "focus":
      return { ...s, focus: a.focus === "mounts" && s.instances.selected === null ? "instances" : a.focus };
    case "modal/open":
      return { ...s, modal: a.modal };
    case "modal/close":
      return { ...s, modal: { kind: "none" } };
    case "task/start":
      return { ...s, tasks: [...s.tasks, a.task] };
    case "task/step":
      return { ...s, tasks: s.tasks.map((t) => (t.id === a.id ? { ...t, step: a.step } : t)) };
    case "task/end":
      return { ...s, tasks: s.tasks.filter((t) => t.id !== a.id) };
    case "notice":
      return { ...s, notice: a.notice };
    case "poll/ok":
      return { ...s, pollError: null, lastPoll: a.now, now: a.now, notice: expire(s.notice, a.now) };
    case "poll/failed":
      return { ...s, pollError: a.error, now: a.now, notice: expire(s.notice, a.now) };
    case "tick":
      return { ...s, now: a.now, notice: expire(s.notice, a.now) };
  }
}

/** The running step for an instance, if any: one at a time per instance keeps the agent sane. */
export function taskFor(s: AppState, instance: string): Task | undefined {
  return s.tasks.find((t) => t.instance === instance);
}
