// The event stream on a real VM: 200 events in a burst reach two concurrent `mount watch`
// processes in order with no loss; a late watcher replays from its sequence number; the sequence
// continues across an agent restart (kill -9, then `vm start`), which is itself an event;
// watchers stop cleanly on SIGTERM; hostile `since` values get 400 INVALID_ARGUMENT.
// The burst is made of real operations: `mount extend` of one timed grant, 200 times through the
// API (each is a full agent operation, journaled and audited, without a guest round trip).
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Event, Mount } from "../../src/agent/api.ts";
import { instancePaths } from "../../src/core/paths.ts";
import { isAlive, waitUntil } from "../../src/util/process.ts";
import { hm, hmOk, hotmountArgv } from "../helpers/cli.ts";
import { useVm } from "../helpers/vm.ts";

const NAME = "events";
const vm = useVm(NAME, ["--memory", "384M", "--slots", "2", "--9p-slots", "0"]);
const root = mkdtempSync(`${tmpdir()}/hmt-events-`);
afterAll(() => rmSync(root, { recursive: true, force: true }));
const sock = () => instancePaths(NAME).agentSock;

const started: Bun.Subprocess[] = [];
// A failed assertion must not leave a watcher running.
afterEach(() => {
  for (const p of started.splice(0)) p.kill("SIGKILL");
});

/** A `hotmount mount watch --json` process whose stdout lines are collected as they come. */
function watcher(extra: string[] = []) {
  const p = Bun.spawn([...hotmountArgv(), "mount", "watch", NAME, "--json", ...extra], {
    env: { ...process.env },
    stdout: "pipe",
    stderr: "pipe",
    stdin: "ignore",
  });
  started.push(p);
  const events: Event[] = [];
  let err = "";
  void (async () => {
    const dec = new TextDecoder();
    let buf = "";
    for await (const chunk of p.stdout) {
      buf += dec.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        events.push(JSON.parse(buf.slice(0, nl)));
        buf = buf.slice(nl + 1);
      }
    }
  })();
  void (async () => {
    for await (const chunk of p.stderr) err += new TextDecoder().decode(chunk);
  })();
  return {
    p,
    events,
    ready: () => waitUntil(() => err.includes("watching"), 30_000),
    stderr: () => err,
    async stop(): Promise<number> {
      p.kill("SIGTERM");
      return p.exited;
    },
  };
}

async function extend(id: string): Promise<void> {
  const res = await fetch(`http://hotmount/v1/mounts/${id}/extend`, {
    method: "POST",
    unix: sock(),
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ forSeconds: 1 }),
  } as RequestInit);
  expect(res.status).toBe(200);
  await res.arrayBuffer();
}

const consecutive = (evs: Event[]) => evs.every((e, i) => i === 0 || e.seq === evs[i - 1]!.seq + 1);

describe("event stream", () => {
  test("hostile since values get 400 INVALID_ARGUMENT with a clear message", async () => {
    const info = await fetch("http://hotmount/v1/events?since=0", { unix: sock() } as RequestInit);
    expect(info.status).toBe(200);
    await info.body!.cancel();
    for (const [since, re] of [
      ["-1", /whole number/],
      ["abc", /whole number/],
      ["1e3", /whole number/],
      ["1.5", /whole number/],
      ["", /whole number/],
      ["%00", /whole number/],
      ["99999999999999999999", /whole number/],
      ["999999999", /ahead of the last event/],
    ] as const) {
      const res = await fetch(`http://hotmount/v1/events?since=${since}`, { unix: sock() } as RequestInit);
      expect({ since, status: res.status }).toEqual({ since, status: 400 });
      const body = (await res.json()) as { code: string; message: string; hint: string };
      expect(body.code).toBe("INVALID_ARGUMENT");
      expect(body.message).toMatch(re);
      expect(body.hint).toContain("since");
    }
    const cli = await hm(["mount", "watch", NAME, "--since", "-3", "--json"]);
    expect(cli.code).toBe(2);
    expect(cli.json().error.code).toBe("INVALID_ARGUMENT");
    const ahead = await hm(["mount", "watch", NAME, "--since", "999999", "--json"]);
    expect(ahead.code).toBe(2);
    expect(ahead.json().error.message).toContain("ahead of the last event");
  });

  test("200 events in a burst reach two concurrent watchers in order with no loss; a late watcher replays from its seq; SIGTERM stops them cleanly", async () => {
    const a = watcher();
    const b = watcher();
    expect(await a.ready()).toBe(true);
    expect(await b.ready()).toBe(true);
    const dir = join(root, "burst");
    mkdirSync(dir);
    const m = (await hmOk(["mount", "add", NAME, dir, "/mnt/burst", "--for", "1d", "--json"])).json() as Mount;
    for (let i = 0; i < 200; i++) await extend(m.id);
    const want = 202; // added, ready, 200 × extended
    expect(await waitUntil(() => a.events.length >= want && b.events.length >= want, 60_000)).toBe(true);
    for (const w of [a, b]) {
      expect(w.events.length).toBe(want);
      expect(w.events.map((e) => e.type)).toEqual(["mount-added", "mount-ready", ...Array(200).fill("mount-extended")]);
      expect(consecutive(w.events)).toBe(true);
      expect(w.events.every((e) => e.instance === NAME)).toBe(true);
    }
    expect(b.events.map((e) => e.seq)).toEqual(a.events.map((e) => e.seq));
    // The last extend's event carries the mount as it is: 200 s later than at first.
    expect(Date.parse(a.events.at(-1)!.mount!.expiresAt!)).toBe(Date.parse(m.expiresAt!) + 200_000);
    expect(await a.stop()).toBe(0);
    expect(await b.stop()).toBe(0);

    const since = a.events[100]!.seq;
    const late = watcher(["--since", String(since)]);
    expect(await late.ready()).toBe(true);
    const last = a.events.at(-1)!.seq;
    expect(await waitUntil(() => late.events.at(-1)?.seq === last, 30_000)).toBe(true);
    expect(late.events.map((e) => e.seq)).toEqual(a.events.slice(101).map((e) => e.seq));
    expect(late.events).toEqual(a.events.slice(101));
    expect(await late.stop()).toBe(0);
  });

  test("after kill -9 of the agent and vm start, the sequence continues, agent-started says restarted, and events from before replay", async () => {
    const dir = join(root, "restart");
    mkdirSync(dir);
    const m = (await hmOk(["mount", "add", NAME, dir, "/mnt/restart", "--for", "1d", "--json"])).json() as Mount;
    await extend(m.id);
    const before = (await hmOk(["mount", "list", NAME, "--json"])).json() as Mount[];
    const probe = watcher(["--since", "0"]);
    expect(await probe.ready()).toBe(true);
    expect(await waitUntil(() => probe.events.at(-1)?.type === "mount-extended" && probe.events.at(-1)?.mountId === m.id, 30_000)).toBe(true);
    const lastSeq = probe.events.at(-1)!.seq;
    expect(probe.events[0]!.seq).toBe(1);
    expect(probe.events[0]!.type).toBe("agent-started");
    const pid = Number(readFileSync(instancePaths(NAME).agentPid, "utf8"));
    process.kill(pid, "SIGKILL");
    try {
      expect(await waitUntil(() => !isAlive(pid), 5000)).toBe(true);
      // The stream ends with the agent: the watcher says so (AGENT_UNREACHABLE, as JSON on stdout
      // with --json) and how to go on.
      expect(await probe.p.exited).toBe(15);
      const end = probe.events.at(-1) as unknown as { error: { code: string; hint: string } };
      expect(end.error.code).toBe("AGENT_UNREACHABLE");
      expect(end.error.hint).toContain(`--since ${lastSeq}`);
    } finally {
      await hmOk(["vm", "start", NAME]);
    }
    const after = watcher(["--since", String(lastSeq)]);
    expect(await after.ready()).toBe(true);
    expect(await waitUntil(() => after.events.length >= 1, 30_000)).toBe(true);
    expect(after.events[0]).toMatchObject({ seq: lastSeq + 1, type: "agent-started" });
    expect(after.events[0]!.message).toContain("agent restarted");
    expect(await after.stop()).toBe(0);
    expect(((await hmOk(["mount", "list", NAME, "--json"])).json() as Mount[]).map((m) => m.id)).toEqual(before.map((m) => m.id));
  });

  test("a real add and remove give added, ready, removed with the mount in them", async () => {
    const w = watcher();
    expect(await w.ready()).toBe(true);
    const dir = join(root, "one");
    mkdirSync(dir);
    const m = (await hmOk(["mount", "add", NAME, dir, "/mnt/one", "--type", "reverse-sshfs", "--json"])).json() as Mount;
    await hmOk(["mount", "remove", NAME, m.id]);
    expect(await waitUntil(() => w.events.some((e) => e.type === "mount-removed" && e.mountId === m.id), 30_000)).toBe(true);
    const mine = w.events.filter((e) => e.mountId === m.id);
    expect(mine.map((e) => e.type)).toEqual(["mount-added", "mount-ready", "mount-removed"]);
    expect(mine[1]!.mount).toMatchObject({ id: m.id, state: "ready", type: "reverse-sshfs", mountPoint: "/mnt/one" });
    expect(consecutive(mine)).toBe(true);
    expect(await w.stop()).toBe(0);
  });
});
