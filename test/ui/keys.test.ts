// The keys: what each key does depends on what is on top, and the key table in ui/keymap.ts is the
// only place a key is named. Every key goes through the real router (routeKey) with recording
// actions, so these tests see what the app would do.
import { describe, expect, test } from "bun:test";
import type { Key } from "ink";
import { createAddMountState, type AddField } from "../../ui/add-mount-form-state.ts";
import { createAgentLogState } from "../../ui/agent-log-state.ts";
import type { AppActions } from "../../ui/app-actions.ts";
import { appReducer, initialAppState, type AppAction, type AppState } from "../../ui/app-state.ts";
import { ALL_KEY_HANDLERS, routeKey } from "../../ui/key-router.ts";
import { isNamedChord, KEY_ROWS, keyName, rowsIn, type Chord, type KeyRow, type Scope } from "../../ui/keymap.ts";
import { createRemoveConfirmState, type RemovePhase } from "../../ui/remove-confirm-state.ts";
import type { TextEdit } from "../../ui/text-field-state.ts";
import { ALL_TRANSPORTS, fakeMount } from "./fake-client.ts";
import { key } from "./helpers.tsx";

/** Routes keys against a state, recording the actions called and the store actions dispatched. */
function harness(start: AppState) {
  let s = start;
  const calls: string[] = [];
  const dispatched: AppAction[] = [];
  const actions = new Proxy({} as AppActions, {
    get:
      (_, name: string) =>
      (...args: unknown[]) => {
        calls.push(args.length > 0 ? `${name}:${args.join(",")}` : name);
        if (name === "close") s = appReducer(s, { type: "modal/close" });
        return name === "complete" ? Promise.resolve({ value: String(args[0]), candidates: [] }) : undefined;
      },
  });
  const deps = {
    getState: () => s,
    dispatch: (a: AppAction) => {
      dispatched.push(a);
      s = appReducer(s, a);
    },
    actions,
    rows: () => ({ instances: 5, mounts: 5, log: 10 }),
  };
  return {
    calls,
    dispatched,
    state: () => s,
    set: (next: AppState) => void (s = next),
    press: (input: string, k: Key = key()) => routeKey(input, k, deps),
  };
}

const base = initialAppState(0);
const withModal = (modal: AppState["modal"]): AppState => ({ ...base, modal });
const addForm = (field: AddField = "hostPath") => withModal({ kind: "add", form: { ...createAddMountState("dev", ALL_TRANSPORTS, "/h", "/"), field } });
const removeAt = (phase: RemovePhase) => withModal({ kind: "remove", confirm: { ...createRemoveConfirmState("dev", fakeMount("dev", 1)), phase } });

/** One state for each thing that can be on top: together they activate every scope. */
const CONTEXTS: Record<string, AppState> = {
  instances: base,
  mounts: { ...base, focus: "mounts" },
  "add/hostPath": addForm("hostPath"),
  "add/mountPoint": addForm("mountPoint"),
  "add/type": addForm("type"),
  "add/writable": addForm("writable"),
  "remove/confirm": removeAt("confirm"),
  "remove/busy": removeAt("busy"),
  "remove/failed": removeAt("failed"),
  "remove/working": removeAt("working"),
  stop: withModal({ kind: "stop", instance: "dev" }),
  log: withModal({ kind: "log", log: createAgentLogState("dev") }),
  help: withModal({ kind: "help" }),
};

/** The input and Key flags a terminal delivers for a chord of the table. */
function pressOf(c: Chord): [string, Key] {
  const flags: Record<string, Partial<Key>> = {
    enter: { return: true },
    esc: { escape: true },
    tab: { tab: true },
    "shift+tab": { tab: true, shift: true },
    up: { upArrow: true },
    down: { downArrow: true },
    left: { leftArrow: true },
    right: { rightArrow: true },
    pgup: { pageUp: true },
    pgdn: { pageDown: true },
    home: { home: true },
    end: { end: true },
    backspace: { backspace: true },
    delete: { delete: true },
  };
  if (flags[c]) return ["", key(flags[c])];
  if (c === "space") return [" ", key()];
  if (c === "any" || c === "text") return ["z", key()];
  if (c.startsWith("ctrl+")) return [c.slice(5), key({ ctrl: true })];
  return [c, key({ shift: c !== c.toLowerCase() })];
}

const chordsOf = (r: KeyRow) => [...r.keys, ...(r.more ?? []), ...(r.also ?? [])];

describe("the key table", () => {
  test("every row is reachable: each of its keys means its intent, and acts, on some screen", () => {
    for (const r of KEY_ROWS) {
      for (const c of chordsOf(r)) {
        const reached = Object.values(CONTEXTS).some((s) => {
          const h = harness(s);
          const hit = h.press(...pressOf(c));
          return hit?.scope === r.scope && hit.intent === r.intent && h.calls.length + h.dispatched.length > 0;
        });
        if (!reached) throw new Error(`${r.scope}/${r.intent}: ${c} never reaches it`);
      }
    }
  });

  test("every intent the router handles is in the table, and every intent in the table is handled", () => {
    const handled = new Map<string, string[]>();
    for (const h of ALL_KEY_HANDLERS) {
      for (const [scope, byIntent] of Object.entries(h)) handled.set(scope, [...(handled.get(scope) ?? []), ...Object.keys(byIntent)]);
    }
    const scopes = new Set(KEY_ROWS.map((r) => r.scope));
    expect([...handled.keys()].sort()).toEqual([...scopes].sort());
    for (const scope of scopes) {
      const inTable = [...new Set(rowsIn(scope as Scope).map((r) => r.intent))].sort();
      // The list keys are handled by whichever pane has focus: each pane handles them all.
      expect([...new Set(handled.get(scope))].sort()).toEqual(inTable);
    }
  });

  test("keys are written one way: a named key, ctrl+letter, or one printable character", () => {
    for (const r of KEY_ROWS) {
      for (const c of chordsOf(r)) expect(isNamedChord(c) || [...c].length === 1).toBe(true);
      expect(r.keys.length).toBeGreaterThan(0);
    }
    expect(keyName("ctrl+c")).toBe("Ctrl-C");
    expect(keyName("pgdn")).toBe("PgDn");
  });
});

test("main keys", () => {
  const run = (input: string, k: Key = key(), s: AppState = base) => {
    const h = harness(s);
    h.press(input, k);
    return h.calls;
  };
  expect(run("q")).toEqual(["quit"]);
  expect(run("?")).toEqual(["openHelp"]);
  expect(run("a")).toEqual(["openAdd"]);
  expect(run("s")).toEqual(["start"]);
  expect(run("x")).toEqual(["askStop"]);
  expect(run("l")).toEqual(["openLog"]);
  expect(run("r")).toEqual(["refresh"]);
  expect(run("", key({ tab: true }))).toEqual(["switchPane"]);
  expect(run("", key({ escape: true }))).toEqual(["back"]);
  // From the instances pane d says where removing happens; in the mounts pane it removes.
  expect(run("d")).toEqual(["explainRemove"]);
  expect(run("d", key(), { ...base, focus: "mounts" })).toEqual(["openRemove"]);
  expect(harness(base).press("z")).toBeNull();
});

test("pane keys move; Enter opens the mounts; d and Delete remove", () => {
  const moved = (input: string, k: Key = key(), s: AppState = base) => {
    const h = harness(s);
    h.press(input, k);
    return h.dispatched[0];
  };
  expect(moved("j")).toEqual({ type: "instances/move", delta: 1 });
  expect(moved("", key({ pageUp: true }))).toEqual({ type: "instances/move", delta: -5 });
  expect(moved("G", key({ shift: true }))).toEqual({ type: "instances/move", delta: Infinity });
  expect(moved("", key({ return: true }))).toEqual({ type: "focus", focus: "mounts" });
  const mounts = { ...base, focus: "mounts" as const };
  expect(moved("k", key(), mounts)).toEqual({ type: "mounts/move", delta: -1 });
  const h = harness(mounts);
  h.press("", key({ delete: true }));
  expect(h.calls).toEqual(["openRemove"]);
});

describe("add-mount form", () => {
  const effect = (input: string, k: Key = key(), field: AddField = "hostPath") => {
    const h = harness(addForm(field));
    h.press(input, k);
    return [...h.calls, ...h.dispatched];
  };
  const edit = (e: TextEdit): AppAction[] => [{ type: "add/edit", edit: e }];

  test("text field keys are readline-like and leave navigation keys to the form", () => {
    expect(effect("a")).toEqual(edit({ kind: "insert", text: "a" }));
    expect(effect("/srv/pasted")).toEqual(edit({ kind: "insert", text: "/srv/pasted" }));
    expect(effect("u", key({ ctrl: true }))).toEqual(edit({ kind: "kill-start" }));
    expect(effect("w", key({ ctrl: true }))).toEqual(edit({ kind: "kill-word" }));
    expect(effect("", key({ backspace: true }))).toEqual(edit({ kind: "backspace" }));
    expect(effect("", key({ leftArrow: true }), "mountPoint")).toEqual(edit({ kind: "left" }));
    expect(effect("z", key({ ctrl: true }))).toEqual([]);
  });

  test("Tab completes the host path and moves on elsewhere", () => {
    expect(effect("", key({ tab: true }))).toEqual(["complete:"]);
    expect(effect("", key({ tab: true }), "mountPoint")).toEqual([{ type: "add/field", delta: 1 }]);
    expect(effect("", key({ tab: true, shift: true }))).toEqual([{ type: "add/field", delta: -1 }]);
    expect(effect("", key({ upArrow: true }))).toEqual([{ type: "add/field", delta: -1 }]);
    expect(effect("", key({ return: true }))).toEqual(["submitAdd"]);
    expect(effect("", key({ escape: true }))).toEqual(["close"]);
    expect(effect(" ", key(), "type")).toEqual([{ type: "add/cycle-type", delta: 1 }]);
    expect(effect("", key({ leftArrow: true }), "type")).toEqual([{ type: "add/cycle-type", delta: -1 }]);
    expect(effect(" ", key(), "writable")).toEqual([{ type: "add/toggle-writable" }]);
    expect(effect("x", key(), "writable")).toEqual([]);
    expect(effect("q")).toEqual(edit({ kind: "insert", text: "q" }));
  });

  test("while the request is out only Esc works", () => {
    const s = addForm();
    const h = harness(s.modal.kind === "add" ? { ...s, modal: { kind: "add", form: { ...s.modal.form, submitting: true } } } : s);
    h.press("a");
    h.press("", key({ return: true }));
    expect([...h.calls, ...h.dispatched]).toEqual([]);
    h.press("", key({ escape: true }));
    expect(h.calls).toEqual(["close"]);
  });
});

test("remove dialog keys: f forces only after a busy refusal", () => {
  const effect = (phase: RemovePhase, input: string, k: Key = key()) => {
    const h = harness(removeAt(phase));
    h.press(input, k);
    return h.calls;
  };
  expect(effect("confirm", "y")).toEqual(["remove:false"]);
  expect(effect("confirm", "", key({ return: true }))).toEqual(["remove:false"]);
  expect(effect("confirm", "f")).toEqual([]);
  expect(effect("confirm", "", key({ escape: true }))).toEqual(["close"]);
  expect(effect("busy", "f")).toEqual(["remove:true"]);
  expect(effect("busy", "y")).toEqual([]);
  expect(effect("failed", "r")).toEqual(["remove:false"]);
  expect(effect("working", "y")).toEqual([]);
});

test("log viewer keys scroll by line and page, jump to the ends, reload and close", () => {
  const effect = (input: string, k: Key = key()) => {
    const h = harness(CONTEXTS.log!);
    h.press(input, k);
    return [...h.calls, ...h.dispatched];
  };
  expect(effect("k")).toEqual([{ type: "log/scroll", delta: -1, viewRows: 10 }]);
  expect(effect("", key({ pageDown: true }))).toEqual([{ type: "log/scroll", delta: 9, viewRows: 10 }]);
  expect(effect("g")).toEqual([{ type: "log/scroll", delta: -Infinity, viewRows: 10 }]);
  expect(effect("r")).toEqual(["reloadLog"]);
  expect(effect("q")).toEqual(["close"]);
});

test("the router sends each key to what is on top, reading the state at that moment", () => {
  const h = harness(base);
  h.press("q");
  expect(h.calls).toEqual(["quit"]);
  h.set(appReducer(h.state(), { type: "modal/open", modal: { kind: "add", form: createAddMountState("dev", ALL_TRANSPORTS, "/h", "/") } }));
  h.press("q");
  const s = h.state();
  expect(s.modal.kind === "add" && s.modal.form.hostPath.value).toBe("q");
  h.press("", key({ escape: true }));
  expect(h.state().modal.kind).toBe("none");
  h.set(appReducer(h.state(), { type: "modal/open", modal: { kind: "help" } }));
  h.press("x");
  expect(h.state().modal.kind).toBe("none");
  expect(h.calls).toEqual(["quit", "close", "close"]);
  h.set({ ...h.state(), focus: "mounts" });
  h.press("d");
  expect(h.calls.at(-1)).toBe("openRemove");
  h.set(appReducer(h.state(), { type: "modal/open", modal: { kind: "stop", instance: "dev" } }));
  h.press("y");
  expect(h.calls.at(-1)).toBe("stop");
});
