// The pure state reducers: instances, mounts, text field, add-mount form, remove dialog, agent
// log and the root app reducer.
import { describe, expect, test } from "bun:test";
import {
  createAddMountState,
  addMountReducer,
  defaultMountPoint,
  effectiveMountPoint,
  toMountRequest,
  validateAddMount,
  type AddMountAction,
  type AddMountState,
} from "../../ui/add-mount-form-state.ts";
import { agentLogReducer, createAgentLogState, visibleLogLines } from "../../ui/agent-log-state.ts";
import { appReducer, initialAppState, NOTICE_MS, taskFor } from "../../ui/app-state.ts";
import { initialInstancesState, instancesReducer, selectedInstance } from "../../ui/instances-pane-state.ts";
import { initialMountsState, mountsReducer, selectedMount, watchView } from "../../ui/mounts-pane-state.ts";
import { createRemoveConfirmState, removeConfirmReducer } from "../../ui/remove-confirm-state.ts";
import { applyEdit, textField } from "../../ui/text-field-state.ts";
import { ALL_TRANSPORTS, fakeInstance, fakeMount } from "./fake-client.ts";

describe("instances", () => {
  test("loads sorted, selects the first, keeps the selection by name across polls", () => {
    let s = instancesReducer(initialInstancesState, { type: "instances/loaded", items: [fakeInstance("zed"), fakeInstance("alpha")] });
    expect(s.items.map((i) => i.name)).toEqual(["alpha", "zed"]);
    expect(s.selected).toBe("alpha");
    s = instancesReducer(s, { type: "instances/move", delta: 1 });
    s = instancesReducer(s, { type: "instances/loaded", items: [fakeInstance("zed"), fakeInstance("mid"), fakeInstance("alpha")] });
    expect(selectedInstance(s)?.name).toBe("zed");
    s = instancesReducer(s, { type: "instances/loaded", items: [fakeInstance("alpha")] });
    expect(s.selected).toBe("alpha");
    expect(instancesReducer(s, { type: "instances/select", name: "nope" })).toBe(s);
  });
});

describe("mounts", () => {
  const show = mountsReducer(initialMountsState, { type: "mounts/show", instance: "dev" });
  test("drops answers for another instance", () => {
    expect(mountsReducer(show, { type: "mounts/loaded", instance: "other", items: [fakeMount("other", 1)] })).toBe(show);
    const s = mountsReducer(show, { type: "mounts/loaded", instance: "dev", items: [fakeMount("dev", 1), fakeMount("dev", 2)] });
    expect(selectedMount(s)?.id).toBe("m1");
    expect(mountsReducer(s, { type: "mounts/show", instance: "dev" })).toBe(s);
    expect(mountsReducer(s, { type: "mounts/show", instance: "x" }).items).toEqual([]);
  });
  test("upsert selects the new mount; removing marks then drops it", () => {
    let s = mountsReducer(show, { type: "mounts/loaded", instance: "dev", items: [fakeMount("dev", 1)] });
    s = mountsReducer(s, { type: "mounts/upsert", mount: fakeMount("dev", 2) });
    expect(s.selected).toBe("m2");
    s = mountsReducer(s, { type: "mounts/mark-removing", id: "m2" });
    expect(s.items[1]?.state).toBe("removing");
    s = mountsReducer(s, { type: "mounts/removed", id: "m2" });
    expect(s.items.map((m) => m.id)).toEqual(["m1"]);
    expect(s.selected).toBe("m1");
  });
  test("a failure keeps the error for the pane", () => {
    const s = mountsReducer(show, { type: "mounts/failed", instance: "dev", error: { code: "AGENT_UNREACHABLE", message: "down" } });
    expect(s.error?.message).toBe("down");
  });
  test("watch state: watching, not watched, a warning that comes and goes with a reload", () => {
    let s = mountsReducer(show, {
      type: "mounts/loaded",
      instance: "dev",
      items: [fakeMount("dev", 1, { watch: true }), fakeMount("dev", 2, { watch: false })],
    });
    expect(s.items.map((m) => watchView(m).label)).toEqual(["watch", "off"]);
    expect(watchView(s.items[1]!).detail).toBe("not watched (--no-watch)");
    const warning = "watching 6 of 9 folders: the host's inotify watch limit is reached";
    s = mountsReducer(s, { type: "mounts/loaded", instance: "dev", items: [fakeMount("dev", 1, { watch: true, watchWarning: warning }), s.items[1]!] });
    expect(watchView(selectedMount(s)!)).toEqual({ label: "watch!", detail: `watch degraded: ${warning}`, color: "yellow" });
    s = mountsReducer(s, { type: "mounts/loaded", instance: "dev", items: [fakeMount("dev", 1, { watch: true })] });
    expect(watchView(selectedMount(s)!).label).toBe("watch");
    expect(watchView(fakeMount("dev", 3)).label).toBe("-");
  });
});

describe("text field", () => {
  test("edits at the cursor like readline", () => {
    let t = textField("/home/dev");
    t = applyEdit(t, { kind: "left" });
    t = applyEdit(t, { kind: "insert", text: "X" });
    expect(t).toEqual({ value: "/home/deXv", cursor: 9 });
    t = applyEdit(t, { kind: "backspace" });
    t = applyEdit(t, { kind: "end" });
    t = applyEdit(t, { kind: "kill-word" });
    expect(t.value).toBe("/home/");
    t = applyEdit(t, { kind: "insert", text: "a\n" });
    expect(t.value).toBe("/home/a");
    t = applyEdit(t, { kind: "home" });
    t = applyEdit(t, { kind: "delete" });
    expect(t).toEqual({ value: "home/a", cursor: 0 });
    expect(applyEdit(t, { kind: "kill-end" }).value).toBe("");
    expect(applyEdit(applyEdit(t, { kind: "end" }), { kind: "kill-start" })).toEqual({ value: "", cursor: 0 });
  });
});

describe("add-mount form", () => {
  const init = () => createAddMountState("dev", ALL_TRANSPORTS, "/home/dev", "/work");
  const run = (s: AddMountState, ...as: AddMountAction[]) => as.reduce(addMountReducer, s);
  const typeText = (text: string): AddMountAction => ({ type: "add/edit", edit: { kind: "insert", text } });

  test("offers only the available transports, first one selected, cycling wraps", () => {
    const s = init();
    expect(s.type).toBe("virtiofs");
    expect(run(s, { type: "add/cycle-type", delta: 1 }).type).toBe("9p");
    expect(run(s, { type: "add/cycle-type", delta: 2 }).type).toBe("virtiofs");
    expect(createAddMountState("dev", [{ type: "9p", available: false }], "/h", "/").type).toBeNull();
  });

  test("the guest path follows the host path until edited", () => {
    let s = run(init(), typeText("~/src/"));
    expect(s.mountPoint.value).toBe("/home/dev/src");
    expect(defaultMountPoint(s)).toBe("/home/dev/src");
    s = run(s, { type: "add/field", delta: 1 }, { type: "add/edit", edit: { kind: "kill-start" } }, typeText("/mnt/src"));
    s = run(s, { type: "add/field", delta: -1 }, typeText("app"));
    expect(s.mountPoint.value).toBe("/mnt/src");
    expect(effectiveMountPoint(s)).toBe("/mnt/src");
    s = run(s, { type: "add/field", delta: 1 }, { type: "add/edit", edit: { kind: "kill-start" } });
    expect(effectiveMountPoint(s)).toBe("/home/dev/src/app");
  });

  test("relative host paths resolve against the working directory", () => {
    const s = run(init(), typeText("data"));
    expect(toMountRequest(s)).toEqual({ hostPath: "/work/data", mountPoint: "/work/data", type: "virtiofs", writable: false });
  });

  test("completions apply only to the text they were made for", () => {
    let s = run(init(), typeText("~/s"));
    expect(run(s, { type: "add/completed", from: "~/x", value: "~/xyz/", candidates: [] })).toBe(s);
    s = run(s, { type: "add/completed", from: "~/s", value: "~/src", candidates: ["src/", "srv/"] });
    expect(s.hostPath.value).toBe("~/src");
    expect(s.completions).toEqual(["src/", "srv/"]);
    expect(run(s, typeText("/")).completions).toEqual([]);
    expect(run(s, { type: "add/completed", from: "~/src", value: "~/src", candidates: [] }).noMatch).toBe(true);
  });

  test("validation: host path required, guest path absolute, a transport available", () => {
    expect(validateAddMount(init())?.message).toContain("host folder");
    const rel = run(init(), typeText("/a"), { type: "add/field", delta: 1 }, { type: "add/edit", edit: { kind: "kill-start" } }, typeText("rel"));
    expect(validateAddMount(rel)?.message).toContain("must be absolute");
    const none = run(createAddMountState("dev", [{ type: "9p", available: false, reason: "no" }], "/h", "/"), typeText("/a"));
    expect(validateAddMount(none)?.hint).toBe("9p: no");
    expect(validateAddMount(run(init(), typeText("/a")))).toBeNull();
  });

  test("while submitting, input is ignored; a failure re-opens the form with the error", () => {
    let s = run(init(), typeText("/a"), { type: "add/submitting" });
    expect(run(s, typeText("b"))).toBe(s);
    s = run(s, { type: "add/failed", error: { code: "MOUNT_CONFLICT", message: "taken", hint: "pick another" } });
    expect(s.submitting).toBe(false);
    expect(s.error?.hint).toBe("pick another");
  });

  test("fields move within bounds and writable toggles", () => {
    const s = run(init(), { type: "add/field", delta: 10 });
    expect(s.field).toBe("writable");
    expect(run(s, { type: "add/field", delta: -10 }).field).toBe("hostPath");
    expect(run(s, { type: "add/toggle-writable" }).writable).toBe(true);
  });
});

describe("remove dialog", () => {
  const m = fakeMount("dev", 1);
  test("busy only when not forced; forcing then failing is a plain failure", () => {
    let s = createRemoveConfirmState("dev", m);
    s = removeConfirmReducer(s, { type: "remove/start", force: false });
    expect(removeConfirmReducer(s, { type: "remove/start", force: true })).toBe(s);
    s = removeConfirmReducer(s, { type: "remove/failed", error: { code: "MOUNT_BUSY", message: "busy" } });
    expect(s.phase).toBe("busy");
    s = removeConfirmReducer(s, { type: "remove/start", force: true });
    expect(s).toMatchObject({ phase: "working", force: true, error: null });
    s = removeConfirmReducer(s, { type: "remove/failed", error: { code: "MOUNT_BUSY", message: "still" } });
    expect(s.phase).toBe("failed");
  });
});

describe("agent log", () => {
  const lines = Array.from({ length: 30 }, (_, i) => `line ${i}`);
  test("follows the end, scrolls within bounds, ignores other instances", () => {
    let s = agentLogReducer(createAgentLogState("dev"), { type: "log/loaded", instance: "dev", lines });
    expect(visibleLogLines(s, 10).lines.at(-1)).toBe("line 29");
    s = agentLogReducer(s, { type: "log/scroll", delta: -5, viewRows: 10 });
    expect(visibleLogLines(s, 10)).toEqual({ lines: lines.slice(15, 25), first: 15 });
    s = agentLogReducer(s, { type: "log/scroll", delta: -Infinity, viewRows: 10 });
    expect(visibleLogLines(s, 10).first).toBe(0);
    s = agentLogReducer(s, { type: "log/scroll", delta: -3, viewRows: 10 });
    expect(s.fromBottom).toBe(20);
    s = agentLogReducer(s, { type: "log/scroll", delta: Infinity, viewRows: 10 });
    expect(s.fromBottom).toBe(0);
    expect(agentLogReducer(s, { type: "log/loaded", instance: "x", lines: [] })).toBe(s);
  });
});

describe("app", () => {
  test("selecting an instance points the mounts pane at it; no instance forces the instances pane", () => {
    let s = appReducer(initialAppState(0), { type: "instances/loaded", items: [fakeInstance("a"), fakeInstance("b")] });
    expect(s.mounts.instance).toBe("a");
    s = appReducer(s, { type: "focus", focus: "mounts" });
    s = appReducer(s, { type: "instances/move", delta: 1 });
    expect(s.mounts.instance).toBe("b");
    s = appReducer(s, { type: "instances/loaded", items: [] });
    expect(s.focus).toBe("instances");
    expect(appReducer(s, { type: "focus", focus: "mounts" }).focus).toBe("instances");
  });

  test("dialog actions reach only the open dialog", () => {
    const s = initialAppState(0);
    expect(appReducer(s, { type: "add/toggle-writable" })).toBe(s);
    const open = appReducer(s, { type: "modal/open", modal: { kind: "add", form: createAddMountState("a", ALL_TRANSPORTS, "/h", "/") } });
    const t = appReducer(open, { type: "add/toggle-writable" });
    expect(t.modal.kind === "add" && t.modal.form.writable).toBe(true);
    expect(appReducer(t, { type: "modal/close" }).modal.kind).toBe("none");
  });

  test("tasks are tracked per instance; info notices expire, errors stay", () => {
    let s = appReducer(initialAppState(0), { type: "task/start", task: { id: 1, instance: "a", label: "Starting a", step: null, startedAt: 0 } });
    s = appReducer(s, { type: "task/step", id: 1, step: "booting" });
    expect(taskFor(s, "a")?.step).toBe("booting");
    s = appReducer(s, { type: "task/end", id: 1 });
    expect(taskFor(s, "a")).toBeUndefined();
    s = appReducer(s, { type: "notice", notice: { kind: "info", text: "ok", at: 0 } });
    expect(appReducer(s, { type: "tick", now: NOTICE_MS + 1 }).notice).toBeNull();
    s = appReducer(s, { type: "notice", notice: { kind: "error", text: "bad", at: 0 } });
    expect(appReducer(s, { type: "poll/ok", now: NOTICE_MS * 10 }).notice?.text).toBe("bad");
  });

  test("a polling failure is kept until the next good poll", () => {
    let s = appReducer(initialAppState(0), { type: "poll/failed", error: { code: "AGENT_UNREACHABLE", message: "x" }, now: 5 });
    expect(s.pollError?.code).toBe("AGENT_UNREACHABLE");
    s = appReducer(s, { type: "poll/ok", now: 6 });
    expect(s).toMatchObject({ pollError: null, lastPoll: 6, now: 6 });
  });
});
