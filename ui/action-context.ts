// What every action runs with: the client, the store, and the two ways an action reports back.
// A long call runs as a task (spinner and elapsed time in the status line); an outcome is a
// notice, never a stack.
import type { HotmountClient } from "../src/client/types.ts";
import type { InstanceSummary } from "../src/agent/api.ts";
import { taskFor, type AppAction, type AppState } from "./app-state.ts";
import { toErrorView } from "./error-view.ts";
import { selectedInstance } from "./instances-pane-state.ts";
import type { ReadDir } from "./path-complete.ts";

export interface ActionDeps {
  client: HotmountClient;
  getState: () => AppState;
  dispatch: (a: AppAction) => void;
  refresh: () => void;
  exit: () => void;
  clock: () => number;
  readDir: ReadDir;
  home: string;
  cwd: string;
}

export interface ActionContext extends ActionDeps {
  nextTaskId: () => number;
}

export function withTaskIds(d: ActionDeps): ActionContext {
  let next = 1;
  return { ...d, nextTaskId: () => next++ };
}

export function info(c: ActionContext, text: string): void {
  c.dispatch({ type: "notice", notice: { kind: "info", text, at: c.clock() } });
}

export function fail(c: ActionContext, text: string, hint?: string): void {
  c.dispatch({ type: "notice", notice: hint ? { kind: "error", text, hint, at: c.clock() } : { kind: "error", text, at: c.clock() } });
}

export function failWith(c: ActionContext, e: unknown): void {
  const v = toErrorView(e);
  fail(c, v.message, v.hint);
}

export function clearNotice(c: ActionContext): void {
  c.dispatch({ type: "notice", notice: null });
}

/** Runs `fn` as a task on `instance`; the lists are refreshed when it ends, however it ends. */
export async function runTask<T>(c: ActionContext, instance: string, label: string, fn: (step: (s: string) => void) => Promise<T>): Promise<T> {
  const id = c.nextTaskId();
  c.dispatch({ type: "task/start", task: { id, instance, label, step: null, startedAt: c.clock() } });
  try {
    return await fn((step) => c.dispatch({ type: "task/step", id, step }));
  } finally {
    c.dispatch({ type: "task/end", id });
    c.refresh();
  }
}

/** The selected instance if nothing else is running on it; says why not otherwise. */
export function idleInstance(c: ActionContext): InstanceSummary | undefined {
  const s = c.getState();
  const inst = selectedInstance(s.instances);
  if (!inst) {
    fail(c, "No instance is selected.");
    return undefined;
  }
  const busy = taskFor(s, inst.name);
  if (busy) {
    fail(c, `${inst.name} is busy: ${busy.label}.`, "Wait for it to finish.");
    return undefined;
  }
  return inst;
}
