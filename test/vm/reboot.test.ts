// A guest reboot (same QEMU process, new boot) with one mount per transport (virtiofs, 9p,
// reverse-sshfs): bytes written before it are on the host; the agent notices the new boot,
// says so (guest-rebooted) and mounts each again where it was with no command typed
// (mount-restored, state ready); afterwards the guest reads host edits and writes through each.
// Then the same while no agent runs (kill -9, reboot, `vm start`): the next agent restores them.
// Prints how long each took (docs/reliability.md).
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Event, Mount } from "../../src/agent/api.ts";
import { instancePaths } from "../../src/core/paths.ts";
import { isAlive, waitUntil } from "../../src/util/process.ts";
import { hmOk } from "../helpers/cli.ts";
import { useVm } from "../helpers/vm.ts";

const NAME = "reboot";
const vm = useVm(NAME, ["--memory", "384M", "--slots", "2", "--9p-slots", "1"]);
const root = mkdtempSync(`${tmpdir()}/hmt-reboot-`);
afterAll(() => rmSync(root, { recursive: true, force: true }));

const TYPES = ["virtiofs", "9p", "reverse-sshfs"] as const;
const mp = (t: string) => `/mnt/rb-${t}`;
const hostDir = (t: string) => join(root, t);

/** The agent's event log (events.jsonl) after `seq`. */
function eventsAfter(seq: number): Event[] {
  const text = readFileSync(instancePaths(NAME).events, "utf8");
  return text
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Event)
    .filter((e) => e.seq > seq);
}
const lastSeq = () => eventsAfter(0).reduce((n, e) => Math.max(n, e.seq), 0);

async function list(): Promise<Mount[]> {
  return (await hmOk(["mount", "list", NAME, "--json"])).json() as Mount[];
}

async function rebootGuest(): Promise<void> {
  await vm.exec(["sh", "-c", "(sleep 1; reboot -f) >/dev/null 2>&1 &"]);
  vm.reconnect();
}

/** Every mount restored (an event each, listed ready) within `ms`; returns the seconds it took. */
async function restored(ids: string[], since: number, ms: number): Promise<number> {
  const t0 = Date.now();
  const ok = await waitUntil(
    async () => {
      const evs = eventsAfter(since);
      if (!ids.every((id) => evs.some((e) => e.type === "mount-restored" && e.mountId === id))) return false;
      return (await list()).filter((m) => ids.includes(m.id)).every((m) => m.state === "ready");
    },
    ms,
    500,
  );
  if (!ok) console.log("events since the reboot:", JSON.stringify(eventsAfter(since).map((e) => [e.type, e.mountId, e.message])));
  expect(ok).toBe(true);
  return (Date.now() - t0) / 1000;
}

/** Through every mount: the guest reads what the host wrote just now, and writes a file the host reads. */
async function usable(tag: string): Promise<void> {
  for (const t of TYPES) {
    writeFileSync(join(hostDir(t), `host-${tag}.txt`), `host ${tag} ${t}`);
    const seen = await vm.exec(["cat", `${mp(t)}/host-${tag}.txt`]);
    expect({ t, out: seen.stdout }).toEqual({ t, out: `host ${tag} ${t}` });
    await vm.run(["sh", "-c", `echo "guest ${tag} ${t}" > ${mp(t)}/guest-${tag}.txt`]);
    expect(readFileSync(join(hostDir(t), `guest-${tag}.txt`), "utf8")).toBe(`guest ${tag} ${t}\n`);
  }
}

/** One writable mount per transport (useVm removes every mount after each test). */
async function addAll(): Promise<string[]> {
  const ids: string[] = [];
  for (const t of TYPES) {
    mkdirSync(hostDir(t), { recursive: true });
    ids.push(((await hmOk(["mount", "add", NAME, hostDir(t), mp(t), "--type", t, "--writable", "--json"])).json() as Mount).id);
  }
  return ids;
}

describe("guest reboot", () => {
  test("three transports mounted: bytes written before are on the host; each is mounted again with no command typed", async () => {
    const ids = await addAll();
    for (const t of TYPES) await vm.run(["sh", "-c", `echo before > ${mp(t)}/before.txt`]);
    await rebootGuest();
    for (const t of TYPES) expect(readFileSync(join(hostDir(t), "before.txt"), "utf8")).toBe("before\n");
    const since = lastSeq();
    const secs = await restored(ids, since, 240_000);
    console.log(`reboot with 3 mounts: all restored ${secs.toFixed(1)} s after the reboot command`);
    const evs = eventsAfter(since);
    expect(evs.find((e) => e.type === "guest-rebooted")?.message).toContain("rebooted");
    // The reboot is said before any mount comes back.
    const rb = evs.find((e) => e.type === "guest-rebooted")!.seq;
    expect(evs.filter((e) => e.type === "mount-restored").every((e) => e.seq > rb)).toBe(true);
    const listed = await list();
    for (const t of TYPES) expect(listed.find((m) => m.mountPoint === mp(t))).toMatchObject({ type: t, state: "ready", writable: true });
    await usable("after-reboot");
  }, 300_000);

  test("a reboot while no agent runs: the next agent (vm start) mounts them again", async () => {
    const ids = await addAll();
    const pid = Number(readFileSync(instancePaths(NAME).agentPid, "utf8"));
    process.kill(pid, "SIGKILL");
    expect(await waitUntil(() => !isAlive(pid), 5000)).toBe(true);
    const since = lastSeq();
    const bootId = async () => (await vm.exec(["cat", "/proc/sys/kernel/random/boot_id"]).catch(() => ({ stdout: "" }))).stdout.trim();
    const first = await bootId();
    await rebootGuest();
    // The guest is back in its new boot before the agent is.
    expect(await waitUntil(async () => ![first, ""].includes(await bootId()), 180_000, 1000)).toBe(true);
    await hmOk(["vm", "start", NAME]);
    const secs = await restored(ids, since, 180_000);
    console.log(`reboot without an agent: all restored ${secs.toFixed(1)} s after vm start`);
    expect(eventsAfter(since).find((e) => e.type === "guest-rebooted")?.message).toContain("no agent");
    await usable("after-restart");
    for (const id of ids) await hmOk(["mount", "remove", NAME, id]);
    expect(await list()).toEqual([]);
  }, 300_000);
});
