// The pure key mappers of each component: what a key means depends on where the user is.
import { expect, test } from "bun:test";
import { addMountIntent } from "../../ui/add-mount-form-keys.ts";
import { createAddMountState } from "../../ui/add-mount-form-state.ts";
import { agentLogIntent } from "../../ui/agent-log-keys.ts";
import { initialAppState } from "../../ui/app-state.ts";
import type { AppActions } from "../../ui/app-actions.ts";
import { mainIntent, routeKey } from "../../ui/key-router.ts";
import { appReducer, type AppAction, type AppState } from "../../ui/app-state.ts";
import { instancesKeyAction } from "../../ui/instances-pane-keys.ts";
import { mountsIntent } from "../../ui/mounts-pane-keys.ts";
import { removeIntent } from "../../ui/remove-confirm-keys.ts";
import { createRemoveConfirmState, type RemovePhase } from "../../ui/remove-confirm-state.ts";
import { textEditFromKey } from "../../ui/text-field-keys.ts";
import { ALL_TRANSPORTS, fakeMount } from "./fake-client.ts";
import { key } from "./helpers.tsx";

test("main keys", () => {
  const s = initialAppState(0);
  expect(mainIntent("q", key(), s)).toBe("quit");
  expect(mainIntent("?", key(), s)).toBe("help");
  expect(mainIntent("a", key(), s)).toBe("add");
  expect(mainIntent("s", key(), s)).toBe("start");
  expect(mainIntent("x", key(), s)).toBe("stop");
  expect(mainIntent("l", key(), s)).toBe("log");
  expect(mainIntent("r", key(), s)).toBe("refresh");
  expect(mainIntent("", key({ tab: true }), s)).toBe("switch-pane");
  expect(mainIntent("", key({ escape: true }), s)).toBe("back");
  expect(mainIntent("d", key(), s)).toBe("remove");
  // In the mounts pane, d belongs to the pane's own keys.
  expect(mainIntent("d", key(), { ...s, focus: "mounts" })).toBeNull();
  expect(mainIntent("z", key(), s)).toBeNull();
});

test("pane keys move; Enter opens the mounts; d and Delete remove", () => {
  expect(instancesKeyAction("j", key(), 5)).toEqual({ type: "instances/move", delta: 1 });
  expect(instancesKeyAction("", key({ pageUp: true }), 5)).toEqual({ type: "instances/move", delta: -5 });
  expect(instancesKeyAction("G", key({ shift: true }), 5)).toEqual({ type: "instances/move", delta: Infinity });
  expect(instancesKeyAction("", key({ return: true }), 5)).toEqual({ type: "focus", focus: "mounts" });
  expect(mountsIntent("k", key(), 5)).toEqual({ kind: "action", action: { type: "mounts/move", delta: -1 } });
  expect(mountsIntent("d", key(), 5)).toEqual({ kind: "remove" });
  expect(mountsIntent("", key({ delete: true }), 5)).toEqual({ kind: "remove" });
});

test("text field keys are readline-like and leave navigation keys alone", () => {
  expect(textEditFromKey("a", key())).toEqual({ kind: "insert", text: "a" });
  expect(textEditFromKey("/srv/pasted", key())).toEqual({ kind: "insert", text: "/srv/pasted" });
  expect(textEditFromKey("u", key({ ctrl: true }))).toEqual({ kind: "kill-start" });
  expect(textEditFromKey("w", key({ ctrl: true }))).toEqual({ kind: "kill-word" });
  expect(textEditFromKey("", key({ backspace: true }))).toEqual({ kind: "backspace" });
  expect(textEditFromKey("", key({ tab: true }))).toBeNull();
  expect(textEditFromKey("", key({ upArrow: true }))).toBeNull();
  expect(textEditFromKey("", key({ return: true }))).toBeNull();
});

test("add-mount form keys: Tab completes the host path and moves on elsewhere", () => {
  const s = createAddMountState("dev", ALL_TRANSPORTS, "/h", "/");
  expect(addMountIntent("", key({ tab: true }), s)).toEqual({ kind: "complete" });
  expect(addMountIntent("", key({ tab: true }), { ...s, field: "mountPoint" })).toEqual({ kind: "action", action: { type: "add/field", delta: 1 } });
  expect(addMountIntent("", key({ tab: true, shift: true }), s)).toEqual({ kind: "action", action: { type: "add/field", delta: -1 } });
  expect(addMountIntent("", key({ return: true }), s)).toEqual({ kind: "submit" });
  expect(addMountIntent("", key({ escape: true }), s)).toEqual({ kind: "cancel" });
  expect(addMountIntent(" ", key(), { ...s, field: "type" })).toEqual({ kind: "action", action: { type: "add/cycle-type", delta: 1 } });
  expect(addMountIntent("", key({ leftArrow: true }), { ...s, field: "type" })).toEqual({ kind: "action", action: { type: "add/cycle-type", delta: -1 } });
  expect(addMountIntent(" ", key(), { ...s, field: "writable" })).toEqual({ kind: "action", action: { type: "add/toggle-writable" } });
  expect(addMountIntent("x", key(), { ...s, field: "writable" })).toBeNull();
  expect(addMountIntent("q", key(), s)).toEqual({ kind: "action", action: { type: "add/edit", edit: { kind: "insert", text: "q" } } });
});

test("remove dialog keys: f forces only after a busy refusal", () => {
  const at = (phase: RemovePhase) => ({ ...createRemoveConfirmState("dev", fakeMount("dev", 1)), phase });
  expect(removeIntent("y", key(), at("confirm"))).toBe("remove");
  expect(removeIntent("", key({ return: true }), at("confirm"))).toBe("remove");
  expect(removeIntent("f", key(), at("confirm"))).toBeNull();
  expect(removeIntent("", key({ escape: true }), at("confirm"))).toBe("cancel");
  expect(removeIntent("f", key(), at("busy"))).toBe("force");
  expect(removeIntent("y", key(), at("busy"))).toBeNull();
  expect(removeIntent("r", key(), at("failed"))).toBe("remove");
  expect(removeIntent("y", key(), at("working"))).toBeNull();
});

test("log viewer keys scroll by line and page, jump to the ends, reload and close", () => {
  expect(agentLogIntent("k", key(), 10)).toEqual({ kind: "action", action: { type: "log/scroll", delta: -1, viewRows: 10 } });
  expect(agentLogIntent("", key({ pageDown: true }), 10)).toEqual({ kind: "action", action: { type: "log/scroll", delta: 9, viewRows: 10 } });
  expect(agentLogIntent("g", key(), 10)).toEqual({ kind: "action", action: { type: "log/scroll", delta: -Infinity, viewRows: 10 } });
  expect(agentLogIntent("r", key(), 10)).toEqual({ kind: "reload" });
  expect(agentLogIntent("q", key(), 10)).toEqual({ kind: "close" });
});

test("the router sends each key to what is on top, reading the state at that moment", () => {
  let s: AppState = initialAppState(0);
  const log: string[] = [];
  const actions = {
    run: (i: string) => void log.push(`run:${i}`),
    submitAdd: async () => void log.push("submit"),
    complete: async (v: string) => ({ value: v, candidates: [] }),
    openRemove: () => void log.push("openRemove"),
    remove: async (f: boolean) => void log.push(`remove:${f}`),
    stop: async () => void log.push("stop"),
    reloadLog: async () => void log.push("reload"),
    close: () => void (s = appReducer(s, { type: "modal/close" })),
  } as unknown as AppActions;
  const deps = { getState: () => s, dispatch: (a: AppAction) => void (s = appReducer(s, a)), actions, rows: () => ({ instances: 3, mounts: 5, log: 10 }) };
  routeKey("q", key(), deps);
  expect(log).toEqual(["run:quit"]);
  s = appReducer(s, { type: "modal/open", modal: { kind: "add", form: createAddMountState("dev", ALL_TRANSPORTS, "/h", "/") } });
  routeKey("q", key(), deps);
  expect(s.modal.kind === "add" && s.modal.form.hostPath.value).toBe("q");
  routeKey("", key({ escape: true }), deps);
  expect(s.modal.kind).toBe("none");
  s = appReducer(s, { type: "modal/open", modal: { kind: "help" } });
  routeKey("x", key(), deps);
  expect(s.modal.kind).toBe("none");
  expect(log).toEqual(["run:quit"]);
  s = { ...s, focus: "mounts" };
  routeKey("d", key(), deps);
  expect(log.at(-1)).toBe("openRemove");
  s = appReducer(s, { type: "modal/open", modal: { kind: "stop", instance: "dev" } });
  routeKey("y", key(), deps);
  expect(log.at(-1)).toBe("stop");
});
