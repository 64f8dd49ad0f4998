// Faults on a running VM, each checked for what a user would lose: the host folder deleted and
// made again while mounted (every transport), QEMU and virtiofsd stopped (SIGSTOP) for 20 s in
// the middle of an add and of a remove, and the agent killed while it brings a mount back.
// After each: bytes written before are on the host, the mount is ready again or gone without a
// trace, and the next add works. Prints each outcome and time (docs/reliability.md).
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Mount } from "../../src/agent/api.ts";
import type { Failpoint } from "../../src/core/failpoint.ts";
import { instancePaths } from "../../src/core/paths.ts";
import { findProcesses, isAlive, waitUntil } from "../../src/util/process.ts";
import { hm, hmOk } from "../helpers/cli.ts";
import { useVm } from "../helpers/vm.ts";

const NAME = "faults";
const vm = useVm(NAME, ["--memory", "384M", "--slots", "2", "--9p-slots", "1"]);
const root = mkdtempSync(`${tmpdir()}/hmt-faults-`);
afterAll(() => rmSync(root, { recursive: true, force: true }));
const PAUSE_MS = 20_000;

const TYPES = ["virtiofs", "9p", "reverse-sshfs"] as const;

async function list(): Promise<Mount[]> {
  return (await hmOk(["mount", "list", NAME, "--json"])).json() as Mount[];
}
const state = async (id: string) => (await list()).find((m) => m.id === id);

async function add(dir: string, mp: string, type: string): Promise<Mount> {
  mkdirSync(dir, { recursive: true });
  return (await hmOk(["mount", "add", NAME, dir, mp, "--type", type, "--writable", "--json"])).json() as Mount;
}

/** The mount's virtiofsd processes (a wrapper and its child share the socket path). */
const virtiofsds = (id: string) => findProcesses((argv) => argv.join(" ").includes("virtiofsd") && argv.join(" ").includes(`${id}.sock`));
const qemuPid = () => Number(readFileSync(instancePaths(NAME).qemuPid, "utf8"));

/** Nothing of the mount left: not listed, not in the guest's mount table, no virtiofsd. */
async function gone(id: string, mp: string): Promise<void> {
  expect(await state(id)).toBeUndefined();
  expect(await vm.run(["cat", "/proc/mounts"])).not.toContain(` ${mp} `);
  expect(virtiofsds(id)).toEqual([]);
}

/** SIGSTOPs `pids` for PAUSE_MS while `op` runs; returns op's exit code and seconds. */
async function pausedDuring(pids: number[], op: string[]): Promise<{ code: number; secs: number; stderr: string }> {
  for (const p of pids) process.kill(p, "SIGSTOP");
  const t0 = Date.now();
  const run = hm(op);
  await Bun.sleep(PAUSE_MS);
  for (const p of pids) process.kill(p, "SIGCONT");
  const r = await run;
  return { code: r.code, secs: (Date.now() - t0) / 1000, stderr: r.stderr };
}

describe("faults", () => {
  test("host folder deleted and made again while mounted: each transport mounts the new folder at the same path", async () => {
    const ms: Record<string, Mount> = {};
    for (const t of TYPES) {
      ms[t] = await add(join(root, `swap-${t}`), `/mnt/swap-${t}`, t);
      await vm.run(["sh", "-c", `echo before > /mnt/swap-${t}/before.txt`]);
    }
    const t0 = Date.now();
    for (const t of TYPES) {
      const dir = join(root, `swap-${t}`);
      expect(readFileSync(join(dir, "before.txt"), "utf8")).toBe("before\n");
      rmSync(dir, { recursive: true });
      mkdirSync(dir);
      writeFileSync(join(dir, "new.txt"), `new ${t}`);
    }
    const back = await waitUntil(
      async () => {
        for (const t of TYPES) if ((await vm.exec(["cat", `/mnt/swap-${t}/new.txt`])).stdout !== `new ${t}`) return false;
        return true;
      },
      60_000,
      500,
    );
    expect(back).toBe(true);
    console.log(`host folder replaced: all 3 transports serve the new folder ${((Date.now() - t0) / 1000).toFixed(1)} s later`);
    for (const t of TYPES) {
      expect(await state(ms[t]!.id)).toMatchObject({ state: "ready" });
      await vm.run(["sh", "-c", `echo after > /mnt/swap-${t}/after.txt`]);
      expect(readFileSync(join(root, `swap-${t}`, "after.txt"), "utf8")).toBe("after\n");
    }
    // Deleted and not made again: failed, saying so; made again: back by itself.
    rmSync(join(root, "swap-virtiofs"), { recursive: true });
    expect(await waitUntil(async () => (await state(ms.virtiofs!.id))?.state === "failed", 30_000, 500)).toBe(true);
    expect((await state(ms.virtiofs!.id))?.error?.message).toContain("is gone");
    mkdirSync(join(root, "swap-virtiofs"));
    writeFileSync(join(root, "swap-virtiofs", "again.txt"), "again");
    expect(await waitUntil(async () => (await vm.exec(["cat", "/mnt/swap-virtiofs/again.txt"])).stdout === "again", 60_000, 500)).toBe(true);
    expect(await state(ms.virtiofs!.id)).toMatchObject({ state: "ready" });
  }, 240_000);

  test("QEMU stopped for 20 s in the middle of a remove, then of an add: each ends cleanly, and the next add works", async () => {
    const m = await add(join(root, "qstop"), "/mnt/qstop", "virtiofs");
    await vm.run(["sh", "-c", "echo kept > /mnt/qstop/kept.txt"]);
    const rm = await pausedDuring([qemuPid()], ["mount", "remove", NAME, m.id]);
    console.log(`QEMU stopped 20 s during remove: exit ${rm.code} after ${rm.secs.toFixed(1)} s ${rm.stderr.trim()}`);
    if (rm.code !== 0) await hmOk(["mount", "remove", NAME, m.id, "--force"]);
    await gone(m.id, "/mnt/qstop");
    expect(readFileSync(join(root, "qstop", "kept.txt"), "utf8")).toBe("kept\n");

    const ad = await pausedDuring([qemuPid()], ["mount", "add", NAME, join(root, "qstop"), "/mnt/qstop2", "--json"]);
    console.log(`QEMU stopped 20 s during add: exit ${ad.code} after ${ad.secs.toFixed(1)} s ${ad.stderr.trim()}`);
    const after = (await list()).find((x) => x.mountPoint === "/mnt/qstop2");
    if (ad.code === 0) expect(after?.state).toBe("ready");
    else expect(after).toBeUndefined();
    const next = await add(join(root, "next1"), "/mnt/next1", "virtiofs");
    expect(next.state).toBe("ready");
  }, 240_000);

  test("virtiofsd stopped for 20 s in the middle of a remove: the remove waits for it and leaves nothing", async () => {
    const m = await add(join(root, "vstop"), "/mnt/vstop", "virtiofs");
    await vm.run(["sh", "-c", "echo kept > /mnt/vstop/kept.txt"]);
    const pids = virtiofsds(m.id);
    expect(pids.length).toBeGreaterThan(0);
    const rm = await pausedDuring(pids, ["mount", "remove", NAME, m.id]);
    console.log(`virtiofsd stopped 20 s during remove: exit ${rm.code} after ${rm.secs.toFixed(1)} s ${rm.stderr.trim()}`);
    if (rm.code !== 0) await hmOk(["mount", "remove", NAME, m.id, "--force"]);
    await gone(m.id, "/mnt/vstop");
    expect(readFileSync(join(root, "vstop", "kept.txt"), "utf8")).toBe("kept\n");
  }, 180_000);

  for (const fp of ["restore:begun", "rebuild:detached"] as Failpoint[]) {
    test(`the agent killed while it brings a mount back (${fp}): the next agent brings it back`, async () => {
      const dir = join(root, `heal-${fp.replace(":", "-")}`);
      const m = await add(dir, "/mnt/heal", "virtiofs");
      // An agent with the failpoint armed: it answers, then dies at that step of the heal.
      const old = Number(readFileSync(instancePaths(NAME).agentPid, "utf8"));
      process.kill(old, "SIGKILL");
      expect(await waitUntil(() => !isAlive(old), 5000)).toBe(true);
      await hmOk(["vm", "start", NAME], { env: { HOTMOUNT_FAILPOINT: fp } });
      const pid = Number(readFileSync(instancePaths(NAME).agentPid, "utf8"));
      rmSync(dir, { recursive: true });
      mkdirSync(dir);
      writeFileSync(join(dir, "new.txt"), "new");
      expect(await waitUntil(() => !isAlive(pid), 60_000, 200)).toBe(true);
      await hmOk(["vm", "start", NAME]);
      expect(await waitUntil(async () => (await vm.exec(["cat", "/mnt/heal/new.txt"])).stdout === "new", 60_000, 500)).toBe(true);
      expect(await state(m.id)).toMatchObject({ state: "ready" });
      await hmOk(["mount", "remove", NAME, m.id]);
      await gone(m.id, "/mnt/heal");
    }, 180_000);
  }
});
