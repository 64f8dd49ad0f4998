// What the keys do: every call to the client lives here. Each long call runs as a task (spinner
// and elapsed time in the status line) and reports its outcome as a notice, never a stack.
import type { HotmountClient } from "../src/client/types.ts";
import { toErrorView } from "./error-view.ts";
import { completePath, type Completion, type ReadDir } from "./path-complete.ts";
import { createAddMountState, toMountRequest, validateAddMount } from "./add-mount-form-state.ts";
import { createAgentLogState } from "./agent-log-state.ts";
import { taskFor, type AppAction, type AppState } from "./app-state.ts";
import type { MainIntent } from "./key-router.ts";
import { selectedInstance } from "./instances-pane-state.ts";
import { selectedMount } from "./mounts-pane-state.ts";
import { createRemoveConfirmState } from "./remove-confirm-state.ts";
import { LOG_LINES } from "./poll.ts";

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

export interface AppActions {
  run(intent: MainIntent): void;
  submitAdd(): Promise<void>;
  complete(input: string): Promise<Completion>;
  openRemove(): void;
  remove(force: boolean): Promise<void>;
  stop(): Promise<void>;
  reloadLog(): Promise<void>;
  close(): void;
}

export function createActions(d: ActionDeps): AppActions {
  let nextTask = 1;
  const info = (text: string) => d.dispatch({ type: "notice", notice: { kind: "info", text, at: d.clock() } });
  const fail = (text: string, hint?: string) =>
    d.dispatch({ type: "notice", notice: hint ? { kind: "error", text, hint, at: d.clock() } : { kind: "error", text, at: d.clock() } });
  const failWith = (e: unknown) => {
    const v = toErrorView(e);
    fail(v.message, v.hint);
  };

  async function task<T>(instance: string, label: string, fn: (step: (s: string) => void) => Promise<T>): Promise<T> {
    const id = nextTask++;
    d.dispatch({ type: "task/start", task: { id, instance, label, step: null, startedAt: d.clock() } });
    try {
      return await fn((step) => d.dispatch({ type: "task/step", id, step }));
    } finally {
      d.dispatch({ type: "task/end", id });
      d.refresh();
    }
  }

  /** The selected instance if nothing else is running on it; says why not otherwise. */
  function idleInstance() {
    const s = d.getState();
    const inst = selectedInstance(s.instances);
    if (!inst) {
      fail("No instance is selected.");
      return undefined;
    }
    const busy = taskFor(s, inst.name);
    if (busy) {
      fail(`${inst.name} is busy: ${busy.label}.`, "Wait for it to finish.");
      return undefined;
    }
    return inst;
  }

  function openAdd(): void {
    const inst = idleInstance();
    if (!inst) return;
    if (inst.state !== "running") return fail(`${inst.name} is ${inst.state}: mounts go into a running VM.`, "Press s to start it.");
    d.dispatch({ type: "notice", notice: null });
    d.dispatch({ type: "modal/open", modal: { kind: "add", form: createAddMountState(inst.name, inst.transports, d.home, d.cwd) } });
  }

  async function submitAdd(): Promise<void> {
    const modal = d.getState().modal;
    if (modal.kind !== "add") return;
    const form = modal.form;
    if (form.submitting) return;
    const invalid = validateAddMount(form);
    if (invalid) return d.dispatch({ type: "add/failed", error: invalid });
    const req = toMountRequest(form);
    d.dispatch({ type: "add/submitting" });
    try {
      const m = await task(form.instance, `Adding ${req.mountPoint} to ${form.instance}`, () => d.client.addMount(form.instance, req));
      d.dispatch({ type: "mounts/upsert", mount: m });
      const now = d.getState().modal;
      if (now.kind === "add" && now.form.instance === form.instance) d.dispatch({ type: "modal/close" });
      d.dispatch({ type: "focus", focus: "mounts" });
      info(`Added ${m.hostPath} at ${m.mountPoint} (${m.type}, ${m.writable ? "rw" : "ro"}).`);
    } catch (e) {
      // The form may have been closed (Esc) while the request was out: then say it in the status line.
      const now = d.getState().modal;
      if (now.kind === "add" && now.form.instance === form.instance) d.dispatch({ type: "add/failed", error: toErrorView(e) });
      else failWith(e);
    }
  }

  function openRemove(): void {
    const s = d.getState();
    const m = selectedMount(s.mounts);
    if (!m) return fail("No mount is selected.", "Move to a mount in the mounts pane first.");
    if (!idleInstance()) return;
    d.dispatch({ type: "notice", notice: null });
    d.dispatch({ type: "modal/open", modal: { kind: "remove", confirm: createRemoveConfirmState(m.instance, m) } });
  }

  async function remove(force: boolean): Promise<void> {
    const modal = d.getState().modal;
    if (modal.kind !== "remove" || modal.confirm.phase === "working") return;
    const { instance, mount } = modal.confirm;
    d.dispatch({ type: "remove/start", force });
    d.dispatch({ type: "mounts/mark-removing", id: mount.id });
    try {
      await task(instance, `Removing ${mount.mountPoint}${force ? " (forced)" : ""}`, () =>
        d.client.removeMount(instance, mount.id, force ? { force: true } : undefined),
      );
      d.dispatch({ type: "mounts/removed", id: mount.id });
      if (d.getState().modal.kind === "remove") d.dispatch({ type: "modal/close" });
      info(`Removed ${mount.mountPoint}.`);
    } catch (e) {
      d.dispatch({ type: "remove/failed", error: toErrorView(e) });
    }
  }

  async function start(): Promise<void> {
    const inst = idleInstance();
    if (!inst) return;
    if (inst.state === "running" || inst.state === "starting") return info(`${inst.name} is already ${inst.state}.`);
    d.dispatch({ type: "notice", notice: null });
    try {
      await task(inst.name, `Starting ${inst.name}`, (step) => d.client.startVm(inst.name, {}, step));
      info(`${inst.name} is running.`);
    } catch (e) {
      failWith(e);
    }
  }

  function askStop(): void {
    const inst = idleInstance();
    if (!inst) return;
    if (inst.state === "stopped") return info(`${inst.name} is already stopped.`);
    d.dispatch({ type: "modal/open", modal: { kind: "stop", instance: inst.name } });
  }

  async function stop(): Promise<void> {
    const modal = d.getState().modal;
    if (modal.kind !== "stop") return;
    d.dispatch({ type: "modal/close" });
    try {
      await task(modal.instance, `Stopping ${modal.instance}`, (step) => d.client.stopVm(modal.instance, step));
      info(`${modal.instance} is stopped.`);
    } catch (e) {
      failWith(e);
    }
  }

  async function reloadLog(): Promise<void> {
    const modal = d.getState().modal;
    if (modal.kind !== "log") return;
    const inst = modal.log.instance;
    try {
      d.dispatch({ type: "log/loaded", instance: inst, lines: await d.client.agentLog(inst, LOG_LINES) });
    } catch (e) {
      d.dispatch({ type: "log/failed", instance: inst, error: toErrorView(e) });
    }
  }

  function openLog(): void {
    const inst = selectedInstance(d.getState().instances);
    if (!inst) return fail("No instance is selected.");
    d.dispatch({ type: "modal/open", modal: { kind: "log", log: createAgentLogState(inst.name) } });
    void reloadLog();
  }

  function run(intent: MainIntent): void {
    const s = d.getState();
    switch (intent) {
      case "quit":
        return d.exit();
      case "help":
        return d.dispatch({ type: "modal/open", modal: { kind: "help" } });
      case "refresh":
        d.dispatch({ type: "notice", notice: null });
        return d.refresh();
      case "add":
        return openAdd();
      case "remove":
        return s.focus === "mounts" ? openRemove() : fail("Select a mount to remove.", "Press Enter or Tab to go to the mounts pane, then d.");
      case "start":
        return void start();
      case "stop":
        return askStop();
      case "log":
        return openLog();
      case "switch-pane":
        return d.dispatch({ type: "focus", focus: s.focus === "instances" ? "mounts" : "instances" });
      case "to-instances":
        return d.dispatch({ type: "focus", focus: "instances" });
      case "to-mounts":
        return d.dispatch({ type: "focus", focus: "mounts" });
      case "back":
        if (s.notice) return d.dispatch({ type: "notice", notice: null });
        return d.dispatch({ type: "focus", focus: "instances" });
    }
  }

  return {
    run,
    submitAdd,
    complete: (input) => completePath(input, d.readDir, d.home, d.cwd),
    openRemove,
    remove,
    stop,
    reloadLog,
    close: () => d.dispatch({ type: "modal/close" }),
  };
}
