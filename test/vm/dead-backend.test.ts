// A virtiofsd killed under a live, writable mount (kill -9, as the OOM killer would): the guest
// process using it gets an error within seconds instead of hanging, what it wrote before is on the
// host, the mount comes back by itself (fresh virtiofsd, same path and options), an unrelated
// mount and new adds keep working, and `mount remove --force` right after a kill leaves nothing.
// One booted guest. The measured times are printed (docs/reliability.md, "Dead backend").
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AgentClient } from "../../src/client/agent-client.ts";
import { instancePaths } from "../../src/core/paths.ts";
import { hm, hmOk } from "../helpers/cli.ts";
import { ourProcesses } from "../helpers/leaks.ts";
import { useVm } from "../helpers/vm.ts";

const NAME = "deadfs";
const vm = useVm(NAME, ["--slots", "4"]);
const root = mkdtempSync(`${tmpdir()}/hmt-dead-`);
afterAll(() => rmSync(root, { recursive: true, force: true }));

const ms = (t0: number) => Math.round(performance.now() - t0);

function hostDir(name: string): string {
  const d = join(root, name);
  mkdirSync(d, { recursive: true });
  return d;
}

async function add(host: string, guest: string): Promise<{ id: string }> {
  return (await hmOk(["mount", "add", NAME, host, guest, "--writable", "--json"])).json();
}

async function list(): Promise<any[]> {
  return (await hmOk(["mount", "list", NAME, "--json"])).json();
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs: number): Promise<T> {
  for (const end = Date.now() + timeoutMs; ; await Bun.sleep(100)) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
  }
}

/** The mount's virtiofsd processes (the C one runs as a sandbox parent and its worker). */
const backends = (id: string) => ourProcesses().filter((p) => p.argv.includes(`${id}.sock`));

/** Kills the process doing the work (the child when there are two), as the OOM killer would. */
function killBackend(id: string): number {
  const ps = backends(id);
  expect(ps.length).toBeGreaterThan(0);
  const ppid = (pid: number) => Number(readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")[1]);
  const worker = ps.find((p) => ps.some((q) => q.pid === ppid(p.pid))) ?? ps[0]!;
  process.kill(worker.pid, "SIGKILL");
  return worker.pid;
}

/** When the agent logged the death of `id`'s backend (ms since the epoch), or null. */
function deathLogged(id: string, since: number): number | null {
  for (const line of readFileSync(instancePaths(NAME).agentLog, "utf8").split("\n")) {
    if (!line.includes(`"a device's backend died","id":"${id}"`)) continue;
    const ts = Date.parse(JSON.parse(line).ts);
    if (ts >= since - 50) return ts;
  }
  return null;
}

/** Our mounts at a path in the guest (a healed mount sits on top of its dead predecessor). */
async function guestMountsAt(path: string): Promise<string[]> {
  return (await vm.run(["cat", "/proc/mounts"]))
    .split("\n")
    .filter((l) => l.split(" ")[1] === path)
    .map((l) => l.split(" ")[2]!);
}

describe("a virtiofsd killed under a live mount", () => {
  test("the guest process gets an error, the data is on the host, the mount comes back, the rest keeps working", async () => {
    const deadHost = hostDir("dead");
    writeFileSync(join(deadHost, "f"), "f\n");
    const otherHost = hostDir("other");
    const m = await add(deadHost, "/mnt/dead");
    await add(otherHost, "/mnt/other");

    // Appends a line, reads a file, until a call fails; prints how many lines it wrote.
    const loop = 'i=0; while echo "$i" >> /mnt/dead/log && cat /mnt/dead/f > /dev/null; do i=$((i+1)); done; echo "$i"; exit 3';
    const guestProc = vm.exec(["timeout", "90", "sh", "-c", loop], 120_000);
    const lines = () => readFileSync(join(deadHost, "log"), "utf8").split("\n").filter(Boolean);
    await waitFor(
      "the guest writer to be going",
      async () => {
        try {
          return lines().length >= 20;
        } catch {
          return false;
        }
      },
      30_000,
    );

    const killedAt = Date.now();
    const t0 = performance.now();
    const killed = killBackend(m.id);
    // The unrelated mount answers while the dead one is handled.
    const other = vm.exec(["sh", "-c", "echo during > /mnt/other/x && cat /mnt/other/x"], 20_000);

    const r = await guestProc;
    const errorAfter = ms(t0);
    console.error(`[dead-backend] guest writer got an error ${errorAfter} ms after the kill: ${r.stderr.trim()}`);
    expect(r.code).toBe(3); // ended by a failing call, not by the 90 s timeout (124)
    expect(errorAfter).toBeLessThan(10_000);
    // Every line the writer saw succeed is on the host, in order.
    const wrote = Number(r.stdout.trim());
    const onHost = lines();
    expect(onHost.length).toBeGreaterThanOrEqual(wrote);
    expect(onHost.length).toBeLessThanOrEqual(wrote + 1);
    expect(onHost).toEqual(onHost.map((_, i) => String(i)));

    expect((await other).stdout).toBe("during\n");
    const detected: number = await waitFor("the death in the agent log", async () => deathLogged(m.id, killedAt) ?? undefined, 5000);
    console.error(`[dead-backend] detected ${detected - killedAt} ms after the kill`);
    expect(detected - killedAt).toBeLessThan(1000);

    const back = await waitFor(
      "the mount ready on a fresh virtiofsd",
      async () => {
        const x = (await list()).find((y) => y.id === m.id);
        const fresh = backends(m.id).filter((p) => p.pid !== killed);
        return x?.state === "ready" && fresh.length > 0 && x;
      },
      60_000,
    );
    console.error(`[dead-backend] ready again ${ms(t0)} ms after the kill`);
    expect(back.mountPoint).toBe("/mnt/dead");
    expect(back.writable).toBe(true);
    expect(back.error).toBeUndefined();
    expect(readFileSync(instancePaths(NAME).agentLog, "utf8")).toContain(`"mount restored","id":"${m.id}"`);

    // The same path, writable, both ways.
    await vm.run(["sh", "-c", "echo healed > /mnt/dead/g"]);
    expect(readFileSync(join(deadHost, "g"), "utf8")).toBe("healed\n");
    writeFileSync(join(deadHost, "h"), "host\n");
    expect(await vm.run(["cat", "/mnt/dead/h"])).toBe("host\n");
    // Nothing went into the guest folder under the mount while it was swapped.
    await vm.run(["sh", "-c", "mkdir -p /tmp/rootview && mount --bind / /tmp/rootview"]);
    try {
      expect((await vm.run(["ls", "-A", "/tmp/rootview/mnt/dead"])).trim()).toBe("");
    } finally {
      await vm.run(["umount", "/tmp/rootview"]);
    }
    expect(await vm.run(["cat", "/mnt/other/x"])).toBe("during\n");

    // A new mount on the same VM works.
    const nextHost = hostDir("next");
    writeFileSync(join(nextHost, "n"), "next\n");
    const t1 = performance.now();
    const n = await add(nextHost, "/mnt/next");
    console.error(`[dead-backend] the next mount add took ${ms(t1)} ms`);
    expect(await vm.run(["cat", "/mnt/next/n"])).toBe("next\n");
    await hmOk(["mount", "remove", NAME, n.id]);

    // A plain remove takes the mount and the dead one under it away.
    await hmOk(["mount", "remove", NAME, m.id]);
    expect(await guestMountsAt("/mnt/dead")).toEqual([]);
    expect(backends(m.id)).toEqual([]);
  }, 180_000);

  test("remove --force right after a kill succeeds and leaves no device, chardev, virtiofsd or guest mount", async () => {
    const m = await add(hostDir("force"), "/mnt/force");
    await add(hostDir("keep"), "/mnt/keep");
    await vm.run(["sh", "-c", "echo keep > /mnt/keep/k"]);
    const hung = vm.exec(["timeout", "60", "sh", "-c", "while ls /mnt/force > /dev/null; do :; done; exit 3"], 90_000);
    await Bun.sleep(500);
    killBackend(m.id);
    const t0 = performance.now();
    const r = await hm(["mount", "remove", NAME, "/mnt/force", "--force", "--json"]);
    console.error(`[dead-backend] remove --force after the kill: exit ${r.code} in ${ms(t0)} ms`);
    expect(r.code).toBe(0);
    expect((await hung).code).toBe(3);
    expect((await list()).map((x) => x.id)).not.toContain(m.id);
    expect(await guestMountsAt("/mnt/force")).toEqual([]);
    expect(backends(m.id)).toEqual([]);
    const inv = await new AgentClient(NAME).inventory();
    expect(inv.devices.map((d) => d.id)).not.toContain(m.id);
    expect(inv.backends.map((b) => b.id)).not.toContain(m.id);
    // The other mount is untouched.
    expect(await vm.run(["cat", "/mnt/keep/k"])).toBe("keep\n");
  }, 120_000);
});
