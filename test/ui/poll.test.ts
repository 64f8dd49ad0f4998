// Polling: one cycle at a time, kick() coalesces, stop() ends it; pollOnce fetches instances,
// the selected instance's mounts and the open log, and turns failures into state, not throws.
import { expect, test } from "bun:test";
import { HotmountError } from "../../src/core/errors.ts";
import { appReducer, initialAppState, type AppAction, type AppState } from "../../ui/app-state.ts";
import { createAgentLogState } from "../../ui/agent-log-state.ts";
import { pollOnce, Poller } from "../../ui/poll.ts";
import { FakeHotmountClient, fakeInstance, fakeMount } from "./fake-client.ts";
import { waitFor } from "./helpers.tsx";

function store(init: AppState = initialAppState(0)) {
  let s = init;
  return { get: () => s, dispatch: (a: AppAction) => void (s = appReducer(s, a)) };
}

test("pollOnce loads instances, then the selected instance's mounts, then the open log", async () => {
  const c = new FakeHotmountClient([{ summary: fakeInstance("dev"), mounts: [fakeMount("dev", 1)], log: ["hello"], busy: new Set() }]);
  const st = store(appReducer(initialAppState(0), { type: "modal/open", modal: { kind: "log", log: createAgentLogState("dev") } }));
  await pollOnce(c, st.get, st.dispatch, () => 7);
  const s = st.get();
  expect(s.instances.selected).toBe("dev");
  expect(s.mounts.items.map((m) => m.id)).toEqual(["m1"]);
  expect(s.modal.kind === "log" && s.modal.log.lines).toEqual(["hello"]);
  expect(s.lastPoll).toBe(7);
  expect(c.calls.map((x) => x.method)).toEqual(["listInstances", "listMounts", "agentLog"]);
});

test("pollOnce turns failures into state", async () => {
  const c = new FakeHotmountClient([fakeInstance("dev", { state: "stopped" })]);
  const st = store();
  await pollOnce(c, st.get, st.dispatch, () => 1);
  expect(st.get().mounts.error?.code).toBe("INSTANCE_NOT_RUNNING");
  c.failNext.set("listInstances", new HotmountError("AGENT_UNREACHABLE", "gone", { hint: "start it" }));
  await pollOnce(c, st.get, st.dispatch, () => 2);
  expect(st.get().pollError).toEqual({ code: "AGENT_UNREACHABLE", message: "gone", hint: "start it" });
  expect(st.get().instances.items).toHaveLength(1);
});

test("Poller runs one cycle at a time, coalesces kicks and stops", async () => {
  let running = 0;
  let maxRunning = 0;
  let cycles = 0;
  // Each cycle waits until the test lets it end, so the overlap is decided by the Poller alone.
  const release: (() => void)[] = [];
  const p = new Poller(async () => {
    running++;
    maxRunning = Math.max(maxRunning, running);
    cycles++;
    await new Promise<void>((r) => release.push(r));
    running--;
  }, 60_000);
  p.kick();
  p.kick();
  p.kick();
  expect(cycles).toBe(1);
  release.shift()!();
  // The first cycle plus one coalesced re-run; the interval timer is a minute away.
  await waitFor(() => expect(cycles).toBe(2));
  release.shift()!();
  await waitFor(() => expect(running).toBe(0));
  expect(maxRunning).toBe(1);
  expect(cycles).toBe(2);
  p.stop();
  p.kick();
  expect(cycles).toBe(2);
  expect(running).toBe(0);
});

test("Poller repeats on its interval", async () => {
  let cycles = 0;
  const p = new Poller(async () => void cycles++, 15);
  p.kick();
  await waitFor(() => expect(cycles).toBeGreaterThanOrEqual(3));
  p.stop();
});
