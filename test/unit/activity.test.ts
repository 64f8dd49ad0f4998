// The pure parts of grants, the audit log and the event stream: duration parsing with hostile
// values, log rotation (bounded to two files), the event ring's replay and its `since` checks,
// and the ranking behind `--type auto` for a VM without shared memory (hotmount's own VMs always
// have it, so the VM tests cannot reach that branch; the session here is a stand-in for QEMU's
// report). The real-VM behaviour is in test/vm/grants.test.ts and test/vm/events.test.ts.
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DriverSession } from "../../drivers/driver.ts";
import { Event } from "../../src/agent/api.ts";
import { EventHub, RING_SIZE } from "../../src/agent/events.ts";
import { JsonlLog } from "../../src/agent/jsonl-log.ts";
import { rankTransports } from "../../src/agent/transport-choice.ts";
import { MAX_GRANT_SECONDS, parseDuration, timeLeft } from "../../src/core/duration.ts";
import { HotmountError } from "../../src/core/errors.ts";

const dir = mkdtempSync(`${tmpdir()}/hmt-act-`);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test.each([
  ["30s", 30],
  ["30m", 1800],
  ["2h", 7200],
  ["1d", 86400],
  ["1h30m", 5400],
  [" 5m ", 300],
  ["366d", MAX_GRANT_SECONDS],
])("duration %p is %p seconds", (v, n) => {
  expect(parseDuration(v)).toBe(n);
});

test.each([
  ["-5m", /negative/],
  ["0s", /at least 1s/],
  ["0m0s", /at least 1s/],
  ["367d", /longer than 366d/],
  ["99999999999999999999d", /too long|too large/],
  ["9007199254740993s", /too large|longer/],
  ["1e3s", /not a number/],
  ["30", /not a number/],
  ["abc", /not a number/],
  ["", /not a number/],
  ["1.5h", /not a number/],
  ["+5m", /no sign/],
  ["5 m", /not a number/],
  ["1".repeat(40) + "s", /too long/],
])("hostile duration %p is INVALID_ARGUMENT with a hint", (v, re) => {
  let err: unknown;
  try {
    parseDuration(v);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(HotmountError);
  expect((err as HotmountError).code).toBe("INVALID_ARGUMENT");
  expect((err as HotmountError).message).toMatch(re);
  expect((err as HotmountError).hint).toContain("30m");
});

test("time left reads as a person would", () => {
  const now = Date.parse("2026-01-01T00:00:00Z");
  expect(timeLeft("2026-01-01T00:00:30Z", now)).toBe("30s");
  expect(timeLeft("2026-01-01T00:29:00Z", now)).toBe("29m00s");
  expect(timeLeft("2026-01-01T02:05:00Z", now)).toBe("2h05m");
  expect(timeLeft("2025-12-31T00:00:00Z", now)).toBe("expired");
});

test("the JSON-lines log rotates at its limit and keeps one older file, never more", () => {
  const path = join(dir, "history.jsonl");
  const log = new JsonlLog(path, 4096);
  for (let i = 0; i < 1000; i++) log.append({ i, pad: "x".repeat(50) });
  expect(statSync(path).size).toBeLessThanOrEqual(4096);
  expect(statSync(`${path}.1`).size).toBeLessThanOrEqual(4096);
  expect(existsSync(`${path}.2`)).toBe(false);
  const kept = log.readAll() as { i: number }[];
  // The newest records are kept, in order, with no gap.
  expect(kept.at(-1)!.i).toBe(999);
  expect(kept.map((r) => r.i)).toEqual(kept.map((_, k) => kept[0]!.i + k));
  expect(kept.length).toBeGreaterThan(4096 / 80);
  // A reopened log knows its size and keeps rotating.
  const again = new JsonlLog(path, 4096);
  for (let i = 1000; i < 1100; i++) again.append({ i, pad: "x".repeat(50) });
  expect(statSync(path).size).toBeLessThanOrEqual(4096);
  expect((again.readAll() as { i: number }[]).at(-1)!.i).toBe(1099);
});

test("a torn last line (crash mid-write) does not hide the others", async () => {
  const path = join(dir, "torn.jsonl");
  const log = new JsonlLog(path);
  log.append({ a: 1 });
  await Bun.write(path, readFileSync(path, "utf8") + '{"a":');
  expect(new JsonlLog(path).readAll()).toEqual([{ a: 1 }]);
});

async function lines(s: ReadableStream<Uint8Array>, n: number): Promise<Event[]> {
  const reader = s.getReader();
  let text = "";
  while (text.split("\n").filter(Boolean).length < n) {
    const { done, value } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  await reader.cancel();
  return text
    .split("\n")
    .filter(Boolean)
    .map((l) => Event.parse(JSON.parse(l)));
}

test("events: seq continues across a restart, since replays, hostile since values are refused", async () => {
  const path = join(dir, "events.jsonl");
  const hub = new EventHub("t", path);
  for (let i = 0; i < 5; i++) hub.emit("mount-added", { mountId: `m${i}` });
  const restarted = new EventHub("t", path);
  expect(restarted.lastSeq).toBe(5);
  expect(restarted.emit("agent-started").seq).toBe(6);
  const replay = await lines(restarted.stream(restarted.parseSince("3")), 3);
  expect(replay.map((e) => e.seq)).toEqual([4, 5, 6]);
  for (const bad of ["-1", "abc", "1e3", "1.5", "", " 1", "99999999999999999999", "7"]) {
    expect(() => restarted.parseSince(bad)).toThrow(bad === "7" ? /ahead of the last event/ : /whole number/);
  }
  expect(restarted.parseSince(null)).toBeNull();
  expect(restarted.parseSince("0")).toBe(0);
});

test("events: a since older than the ring starts with a replay-gap", async () => {
  const hub = new EventHub("g", join(dir, "gap.jsonl"));
  for (let i = 0; i < RING_SIZE + 10; i++) hub.emit("mount-extended");
  const got = await lines(hub.stream(0), 2);
  expect(got[0]!.type).toBe("replay-gap");
  expect(got[0]!.message).toContain("events 1 to 10");
  expect(got[1]!.seq).toBe(11);
});

function session(shared: boolean, ninePSlots: number, used: number, total: number): DriverSession {
  return {
    driver: "qemu",
    transports: async () => [
      shared ? { type: "virtiofs", available: true } : { type: "virtiofs", available: false, reason: "guest RAM is not shared memory" },
      ninePSlots ? { type: "9p", available: true } : { type: "9p", available: false, reason: "the VM was started without reserved 9p slots" },
      { type: "reverse-sshfs", available: true },
    ],
    capacity: async () => ({ total, used }),
    plug: async () => ({}),
    unplug: async () => {},
  } as unknown as DriverSession;
}

test("auto ranks virtiofs, then 9p, then reverse-sshfs, with the reasons", async () => {
  expect(await rankTransports(session(true, 2, 0, 4), 2, [])).toEqual({ order: ["virtiofs", "9p", "reverse-sshfs"], skipped: [] });
  const noShm = await rankTransports(session(false, 2, 0, 4), 2, []);
  expect(noShm.order).toEqual(["9p", "reverse-sshfs"]);
  expect(noShm.skipped).toEqual([{ type: "virtiofs", reason: "guest RAM is not shared memory" }]);
  const ninePFull = await rankTransports(session(false, 1, 1, 4), 1, [{ type: "9p", state: "ready" }]);
  expect(ninePFull.order).toEqual(["reverse-sshfs"]);
  expect(ninePFull.skipped[1]).toEqual({ type: "9p", reason: "all 1 reserved 9p slots are in use" });
  const full = await rankTransports(session(true, 2, 4, 4), 2, []);
  expect(full.order).toEqual(["reverse-sshfs"]);
  expect(full.skipped.map((s) => s.reason)).toEqual(["no free hot-plug slot (4 of 4 in use)", "no free hot-plug slot (4 of 4 in use)"]);
  const noHp = await rankTransports({ driver: "lima-ssh" } as unknown as DriverSession, 0, []);
  expect(noHp.order).toEqual(["reverse-sshfs"]);
});

test("events: a watcher that went away never fails an emit, and is dropped", async () => {
  const hub = new EventHub("d", join(dir, "gone.jsonl"));
  const s = hub.stream(null);
  const reader = s.getReader();
  await reader.read(); // the opening blank line
  await reader.cancel();
  hub.closeAll();
  expect(() => hub.emit("mount-added")).not.toThrow();
  const live = await lines(hub.stream(0), 1);
  expect(live.map((e) => e.type)).toEqual(["mount-added"]);
});

test("the client identity header survives any command line (Unicode, control bytes, length) and reads back", async () => {
  const argv = ["bun", "main.ts", "mount", "add", "dev", "ünïcödé 日本 🎉", "a\u0000b", ..."x".repeat(600).split("")];
  const { clientHeaderValue, CLIENT_HEADER } = await import("../../src/client/client-identity.ts");
  const { identityFromHeader } = await import("../../src/agent/audit-log.ts");
  const v = clientHeaderValue(argv);
  expect(() => new Headers({ [CLIENT_HEADER]: v })).not.toThrow();
  expect(v.length).toBeLessThanOrEqual(4096);
  const who = identityFromHeader(v);
  expect(who).toMatchObject({ source: "header", pid: process.pid });
  expect(who.command!.slice(0, 7)).toEqual(["bun", "main.ts", "mount", "add", "dev", "ünïcödé 日本 🎉", "a\u0000b"]);
  expect(identityFromHeader("not json")).toEqual({ source: "unknown" });
  expect(identityFromHeader('{"pid":"1; rm -rf /","command":[1,{}]}')).toEqual({ source: "header", uid: undefined, pid: undefined, command: [] });
});
