// The actions one by one, against the FakeHotmountClient and the real reducer: what each asks the
// client, and what it leaves on screen (dialog phase, notice, task) when the client answers or fails.
import { expect, test } from "bun:test";
import { withTaskIds, type ActionContext } from "../../ui/action-context.ts";
import { addMountReducer } from "../../ui/add-mount-form-state.ts";
import { appReducer, initialAppState, type AppAction, type AppState } from "../../ui/app-state.ts";
import { openLog } from "../../ui/log-actions.ts";
import { explainRemove, openAdd, openRemove, removeMount, submitAdd } from "../../ui/mount-actions.ts";
import { askStopVm, startVm, stopVm } from "../../ui/vm-actions.ts";
import { FakeHotmountClient, fakeInstance, fakeMount } from "./fake-client.ts";
import { fakeReadDir, NOW, waitFor } from "./helpers.tsx";

/** An action context over a real store, with the instance list (and a mount list) loaded. */
function setup(c: FakeHotmountClient, mountsOf?: string) {
  let s: AppState = initialAppState(NOW);
  const dispatch = (a: AppAction) => void (s = appReducer(s, a));
  let refreshes = 0;
  const ctx: ActionContext = withTaskIds({
    client: c,
    getState: () => s,
    dispatch,
    refresh: () => void refreshes++,
    exit: () => {},
    clock: () => NOW,
    readDir: fakeReadDir({}),
    home: "/home/dev",
    cwd: "/home/dev",
  });
  return {
    ctx,
    state: () => s,
    refreshes: () => refreshes,
    load: async () => {
      dispatch({ type: "instances/loaded", items: await c.listInstances() });
      if (mountsOf) dispatch({ type: "mounts/loaded", instance: mountsOf, items: await c.listMounts(mountsOf) });
    },
  };
}

test("openAdd opens the form for a running instance and says how to start a stopped one", async () => {
  const t = setup(new FakeHotmountClient([fakeInstance("dev")]));
  await t.load();
  openAdd(t.ctx);
  expect(t.state().modal.kind).toBe("add");
  const stopped = setup(new FakeHotmountClient([fakeInstance("dev", { state: "stopped" })]));
  await stopped.load();
  openAdd(stopped.ctx);
  expect(stopped.state().modal.kind).toBe("none");
  expect(stopped.state().notice).toMatchObject({ kind: "error", text: "dev is stopped: mounts go into a running VM.", hint: "Press s to start it." });
});

test("submitAdd sends the form, closes it on success and selects the new mount", async () => {
  const c = new FakeHotmountClient([fakeInstance("dev")]);
  const t = setup(c, "dev");
  await t.load();
  openAdd(t.ctx);
  const m = t.state().modal;
  if (m.kind !== "add") throw new Error("no form");
  t.ctx.dispatch({ type: "add/edit", edit: { kind: "insert", text: "~/src" } });
  await submitAdd(t.ctx);
  expect(c.calls.at(-1)).toEqual({
    method: "addMount",
    args: ["dev", { hostPath: "/home/dev/src", mountPoint: "/home/dev/src", type: "virtiofs", writable: false }],
  });
  expect(t.state().modal.kind).toBe("none");
  expect(t.state().focus).toBe("mounts");
  expect(t.state().tasks).toEqual([]);
  expect(t.refreshes()).toBe(1);
  expect(t.state().notice?.text).toBe("Added /home/dev/src at /home/dev/src (virtiofs, ro).");
  // An empty form is not sent: the form says what is missing.
  openAdd(t.ctx);
  await submitAdd(t.ctx);
  const again = t.state().modal;
  expect(again.kind === "add" && again.form.error?.message).toBe("Enter the host folder to mount.");
  expect(again.kind === "add" && addMountReducer(again.form, { type: "add/toggle-writable" }).writable).toBe(true);
});

test("removeMount: a busy mount turns the dialog to the force offer; forcing removes it", async () => {
  const c = new FakeHotmountClient([{ summary: fakeInstance("dev"), mounts: [fakeMount("dev", 1)], log: [], busy: new Set(["/mnt/project-1"]) }]);
  const t = setup(c, "dev");
  await t.load();
  openRemove(t.ctx);
  await removeMount(t.ctx, false);
  const m = t.state().modal;
  expect(m.kind === "remove" && m.confirm.phase).toBe("busy");
  await removeMount(t.ctx, true);
  expect(c.calls.at(-1)).toEqual({ method: "removeMount", args: ["dev", "m1", { force: true }] });
  expect(t.state().modal.kind).toBe("none");
  expect(t.state().mounts.items).toEqual([]);
  expect(t.state().notice?.text).toBe("Removed /mnt/project-1.");
});

test("explainRemove names the keys that lead to removing", () => {
  const t = setup(new FakeHotmountClient());
  explainRemove(t.ctx);
  expect(t.state().notice).toMatchObject({ text: "Select a mount to remove.", hint: "Press Enter or Tab to go to the mounts pane, then d." });
});

test("startVm runs as a task with the client's steps; askStopVm asks, stopVm stops", async () => {
  const c = new FakeHotmountClient([fakeInstance("dev", { state: "stopped" })]);
  const t = setup(c);
  await t.load();
  const steps: (string | null)[] = [];
  const started = startVm(t.ctx);
  steps.push(t.state().tasks[0]?.step ?? null);
  await started;
  expect(steps).toEqual(["booting the guest"]);
  expect(t.state().notice?.text).toBe("dev is running.");
  await t.load();
  askStopVm(t.ctx);
  expect(t.state().modal).toEqual({ kind: "stop", instance: "dev" });
  await stopVm(t.ctx);
  expect(c.calls.map((x) => x.method)).toContain("stopVm");
  expect(t.state().notice?.text).toBe("dev is stopped.");
});

test("a second task on a busy instance is refused with the running one's label", async () => {
  const c = new FakeHotmountClient([fakeInstance("dev", { state: "stopped" })], { delayMs: 50 });
  const t = setup(c);
  await t.load();
  const first = startVm(t.ctx);
  openAdd(t.ctx);
  expect(t.state().notice).toMatchObject({ text: "dev is busy: Starting dev.", hint: "Wait for it to finish." });
  await first;
});

test("openLog opens the viewer and loads the log at once", async () => {
  const c = new FakeHotmountClient([{ summary: fakeInstance("dev"), mounts: [], log: ["one", "two"], busy: new Set() }]);
  const t = setup(c);
  await t.load();
  openLog(t.ctx);
  await waitFor(() => {
    const m = t.state().modal;
    expect(m.kind === "log" && m.log.lines).toEqual(["one", "two"]);
  });
});
