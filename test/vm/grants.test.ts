// Timed grants on a real VM: a grant expires and leaves nothing behind; an expiry that falls due
// while the agent is dead (kill -9) is carried out when `vm start` brings the agent back; a busy
// mount at expiry with --on-expiry wait (kept until free) and force (holders stopped);
// `mount extend`; hostile --for values; and --type auto passing over full slots and a VM without
// reserved 9p slots, saying why.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Event, HistoryRecord, Mount } from "../../src/agent/api.ts";
import { AgentClient } from "../../src/client/agent-client.ts";
import { watchEvents } from "../../src/client/activity-client.ts";
import { instancePaths } from "../../src/core/paths.ts";
import { isAlive, waitUntil } from "../../src/util/process.ts";
import { hm, hmOk } from "../helpers/cli.ts";
import { ourProcesses } from "../helpers/leaks.ts";
import { useVm } from "../helpers/vm.ts";

const NAME = "grants";
// Retry a busy expiry every second, not every 5 s, so the wait case is quick.
const ENV = { HOTMOUNT_EXPIRY_RETRY_MS: "1000" };
const vm = useVm(NAME, ["--memory", "384M", "--slots", "2", "--9p-slots", "0"], ENV);
const root = mkdtempSync(`${tmpdir()}/hmt-grants-`);
afterAll(() => rmSync(root, { recursive: true, force: true }));

function hostDir(name: string): string {
  const d = join(root, name);
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, "hello"), `hello ${name}\n`);
  return d;
}

async function list(): Promise<Mount[]> {
  return (await hmOk(["mount", "list", NAME, "--json"])).json();
}

function historyOf(id: string): HistoryRecord[] {
  const lines = readFileSync(instancePaths(NAME).history, "utf8").trim().split("\n");
  return lines.map((l) => JSON.parse(l) as HistoryRecord).filter((r) => r.mountId === id);
}

/** The kept events for one mount (replayed from seq 0, then the stream is closed). */
async function eventsOf(id: string, until: (e: Event[]) => boolean, timeoutMs = 90_000): Promise<Event[]> {
  const got: Event[] = [];
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), timeoutMs);
  await watchEvents(
    NAME,
    (e) => {
      if (e.mountId !== id) return;
      got.push(e);
      if (until(got)) ctl.abort();
    },
    { since: 0, signal: ctl.signal },
  );
  clearTimeout(timer);
  return got;
}

/** Removed with nothing left: not listed, not mounted in the guest, no device, no virtiofsd. */
async function nothingLeft(m: Mount): Promise<void> {
  expect((await list()).map((x) => x.id)).not.toContain(m.id);
  expect(await vm.run(["cat", "/proc/mounts"])).not.toContain(` ${m.mountPoint} `);
  const inv = await new AgentClient(NAME).inventory();
  expect(inv.devices.map((d) => d.id)).not.toContain(m.id);
  expect(inv.backends.map((b) => b.id)).not.toContain(m.id);
  expect(ourProcesses().filter((p) => p.argv.includes("virtiofsd") && p.argv.includes(m.id))).toEqual([]);
  expect((await vm.exec(["test", "-e", m.mountPoint])).code).not.toBe(0);
}

async function addGrant(name: string, mountPoint: string, extra: string[]): Promise<Mount> {
  return (await hmOk(["mount", "add", NAME, hostDir(name), mountPoint, "--json", ...extra])).json();
}

async function hold(mountPoint: string): Promise<void> {
  await vm.run(["sh", "-c", `cd ${mountPoint} && exec setsid sleep 3600 </dev/null >/dev/null 2>&1 &`]);
}

const sleepers = async () => (await vm.exec(["sh", "-c", "ps | grep -v grep | grep 'sleep 3600'"])).stdout.trim();

describe("timed grants", () => {
  test("hostile --for and --on-expiry values are refused with INVALID_ARGUMENT and a hint, and nothing is mounted", async () => {
    const dir = hostDir("hostile");
    for (const v of ["-5m", "0s", "abc", "367d", "99999999999999999999d", "1e3s", "30", "1.5h", "", "9007199254740993s"]) {
      const r = await hm(["mount", "add", NAME, dir, "/mnt/hostile", `--for=${v}`, "--json"]);
      expect({ v, code: r.code }).toEqual({ v, code: 2 });
      const err = r.json().error;
      expect(err.code).toBe("INVALID_ARGUMENT");
      expect(err.hint).toContain("30m");
    }
    const bad = await hm(["mount", "add", NAME, dir, "/mnt/hostile", "--for", "5m", "--on-expiry", "later", "--json"]);
    expect(bad.code).toBe(2);
    expect(bad.json().error.code).toBe("INVALID_ARGUMENT");
    // The API checks the same bounds for callers that skip the CLI.
    for (const forSeconds of [-1, 0, 1.5, 1e12, "30m", null]) {
      const res = await fetch("http://hotmount/v1/mounts", {
        method: "POST",
        unix: instancePaths(NAME).agentSock,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ hostPath: dir, mountPoint: "/mnt/hostile", forSeconds }),
      } as RequestInit);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { code: string }).code).toBe("INVALID_ARGUMENT");
    }
    const persist = await hm(["mount", "add", NAME, dir, "/mnt/hostile", "--for", "1h", "--persist", "--json"]);
    expect(persist.json().error.message).toContain("cannot also be persistent");
    const ext = await hm(["mount", "extend", NAME, "/mnt/hostile", "--for", "-1h", "--json"]);
    expect(ext.code).toBe(2);
    expect(ext.json().error.code).toBe("INVALID_ARGUMENT");
    expect(await list()).toEqual([]);
  });

  test("a grant expires and is removed with nothing left; list shows the time left; history says who and what", async () => {
    const m = await addGrant("expire", "/mnt/expire", ["--for", "20s"]);
    expect(await vm.run(["cat", "/mnt/expire/hello"])).toBe("hello expire\n");
    expect(m.onExpiry).toBe("wait");
    const left = Date.parse(m.expiresAt!) - Date.now();
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThanOrEqual(20_000);
    expect((await list()).find((x) => x.id === m.id)?.expiresAt).toBe(m.expiresAt);
    const human = (await hmOk(["mount", "list", NAME])).stdout;
    expect(human).toContain("EXPIRES");
    expect(human).toMatch(/\s\d+s\s|expired/);
    expect(await waitUntil(async () => !(await list()).some((x) => x.id === m.id), 90_000, 500)).toBe(true);
    await nothingLeft(m);
    const events = await eventsOf(m.id, (e) => e.some((x) => x.type === "mount-expired"));
    expect(events.map((e) => e.type)).toEqual(["mount-added", "mount-ready", "mount-removed", "mount-expired"]);
    const h = historyOf(m.id);
    expect(h.map((r) => `${r.action}:${r.outcome}`)).toEqual(["add:ok", "expire:ok"]);
    expect(h[0]!.who.source).toBe("header");
    expect(h[0]!.who.pid).toBeGreaterThan(0);
    expect(h[0]!.who.uid).toBe(process.getuid!());
    expect(h[0]!.who.command).toContain("--for");
    expect(h[0]!.expiresAt).toBe(m.expiresAt);
    expect(h[1]!.who.source).toBe("agent");
    const hist = (await hmOk(["mount", "history", NAME, "--json"])).json() as HistoryRecord[];
    expect(hist.filter((r) => r.mountId === m.id)).toEqual(h);
  });

  test("mount extend pushes the expiry later; a mount without --for has nothing to extend", async () => {
    const m = await addGrant("extend", "/mnt/extend", ["--for", "1m"]);
    const e = (await hmOk(["mount", "extend", NAME, m.id, "--for", "1h", "--json"])).json() as Mount;
    expect(Date.parse(e.expiresAt!)).toBe(Date.parse(m.expiresAt!) + 3600_000);
    expect((await list()).find((x) => x.id === m.id)?.expiresAt).toBe(e.expiresAt);
    const plain = (await hmOk(["mount", "add", NAME, hostDir("plain"), "/mnt/plain", "--json"])).json() as Mount;
    expect(plain.expiresAt).toBeUndefined();
    const r = await hm(["mount", "extend", NAME, "/mnt/plain", "--for", "1h", "--json"]);
    expect(r.code).toBe(2);
    expect(r.json().error.message).toContain("no time limit");
    const missing = await hm(["mount", "extend", NAME, "/mnt/nothing", "--for", "1h", "--json"]);
    expect(missing.json().error.code).toBe("MOUNT_NOT_FOUND");
    expect(historyOf(m.id).map((x) => x.action)).toEqual(["add", "extend"]);
  });

  test("an expiry that falls due while the agent is dead is carried out when the agent comes back", async () => {
    const m = await addGrant("dead", "/mnt/dead", ["--for", "15s"]);
    const pid = Number(readFileSync(instancePaths(NAME).agentPid, "utf8"));
    process.kill(pid, "SIGKILL");
    expect(await waitUntil(() => !isAlive(pid), 5000)).toBe(true);
    // Past the expiry with no agent: the guest still has it (nobody could remove it).
    expect(await waitUntil(() => Date.now() > Date.parse(m.expiresAt!) + 1000, 30_000, 200)).toBe(true);
    expect(await vm.run(["cat", "/mnt/dead/hello"])).toBe("hello dead\n");
    await hmOk(["vm", "start", NAME], { env: ENV });
    expect(await waitUntil(async () => !(await list()).some((x) => x.id === m.id), 90_000, 500)).toBe(true);
    await nothingLeft(m);
    const h = historyOf(m.id);
    expect(h.at(-1)).toMatchObject({ action: "expire", outcome: "ok", who: { source: "agent" } });
  });

  test("expiry while busy with --on-expiry wait: kept until the guest lets go, and the stream says it waits", async () => {
    const m = await addGrant("wait", "/mnt/wait", ["--for", "15s", "--on-expiry", "wait"]);
    await hold("/mnt/wait");
    const waiting = await eventsOf(m.id, (e) => e.some((x) => x.type === "expiry-waiting"));
    expect(waiting.at(-1)!.message).toMatch(/busy \(held by \d+ sleep.*\): retrying every 1s \(on-expiry wait\)/);
    // Still there and working while held (each retry shows it as "removing" for its moment).
    expect(["ready", "removing"]).toContain(String((await list()).find((x) => x.id === m.id)?.state));
    expect(await vm.run(["cat", "/mnt/wait/hello"])).toBe("hello wait\n");
    expect(await sleepers()).not.toBe("");
    await vm.run(["sh", "-c", "pkill -f 'sleep 3600' || killall sleep"]);
    expect(await waitUntil(async () => !(await list()).some((x) => x.id === m.id), 90_000, 500)).toBe(true);
    await nothingLeft(m);
    const done = await eventsOf(m.id, (e) => e.some((x) => x.type === "mount-expired"));
    expect(done.at(-1)!.message).toBe("grant expired: removed");
  });

  test("expiry while busy with --on-expiry force: the holders are stopped and it is removed", async () => {
    const m = await addGrant("force", "/mnt/force", ["--for", "15s", "--on-expiry", "force"]);
    await hold("/mnt/force");
    expect(await sleepers()).not.toBe("");
    expect(await waitUntil(async () => !(await list()).some((x) => x.id === m.id), 90_000, 500)).toBe(true);
    await nothingLeft(m);
    expect(await sleepers()).toBe("");
    const ev = await eventsOf(m.id, (e) => e.some((x) => x.type === "mount-expired"));
    expect(ev.at(-1)!.message).toMatch(/busy \(held by \d+ sleep.*\): the holders were stopped and it was removed \(on-expiry force\)/);
  });
});

describe("--type auto", () => {
  test("takes virtiofs while a slot is free, then reverse-sshfs, and says why it passed over the others", async () => {
    const a = (await hmOk(["mount", "add", NAME, hostDir("auto1"), "/mnt/auto1", "--type", "auto", "--json"])).json() as Mount;
    expect(a.type).toBe("virtiofs");
    expect(a.transportChoice).toEqual({
      requested: "auto",
      chosen: "virtiofs",
      skipped: [{ type: "9p", reason: "the VM was started without reserved 9p slots" }],
    });
    await hmOk(["mount", "add", NAME, hostDir("fill"), "/mnt/fill", "--type", "virtiofs"]);
    const r = await hmOk(["mount", "add", NAME, hostDir("auto2"), "/mnt/auto2", "--type", "auto"]);
    expect(r.stdout).toContain("(reverse-sshfs, read-only");
    expect(r.stdout).toContain("auto chose reverse-sshfs");
    expect(r.stdout).toContain("not virtiofs: no free hot-plug slot (2 of 2 in use)");
    expect(r.stdout).toContain("not 9p: the VM was started without reserved 9p slots");
    const b = (await list()).find((x) => x.mountPoint === "/mnt/auto2")!;
    expect(b.transportChoice?.chosen).toBe("reverse-sshfs");
    expect(await vm.run(["cat", "/mnt/auto1/hello", "/mnt/auto2/hello"])).toBe("hello auto1\nhello auto2\n");
  });
});
