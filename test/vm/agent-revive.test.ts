// A running VM whose agent was killed (kill -9): the next command, or the TUI, restarts the agent
// without a manual step, once even when two commands race, and shows the same mounts, which the
// guest kept all along. While the agent cannot be restarted, `vm list` still counts the
// journaled mounts. Also `hotmount shell NAME CMD ARGS...` with the command's own options.
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { instancePaths } from "../../src/core/paths.ts";
import { isAlive, readPidFile, waitUntil } from "../../src/util/process.ts";
import { hm, hmOk } from "../helpers/cli.ts";
import { useVm } from "../helpers/vm.ts";
import { selectInstance, tmuxAvailable, TmuxSession, withTerminalReport } from "../tui/tmux.ts";

const NAME = "revive";
const vm = useVm(NAME, ["--memory", "384M", "--slots", "2"]);
const root = mkdtempSync(`${tmpdir()}/hmt-revive-`);
afterAll(() => rmSync(root, { recursive: true, force: true }));
const share = join(root, "share");
mkdirSync(share);
writeFileSync(join(share, "hello"), "hello");
const NOTE = `the agent of "${NAME}" was restarted`;

async function killAgent(): Promise<number> {
  const pid = readPidFile(instancePaths(NAME).agentPid)!;
  expect(pid).toBeGreaterThan(0);
  process.kill(pid, "SIGKILL");
  expect(await waitUntil(() => !isAlive(pid), 5000)).toBe(true);
  return pid;
}

/** How many agents have started for the instance (each logs "agent starting" once). */
const agentStarts = () =>
  readFileSync(instancePaths(NAME).agentLog, "utf8")
    .split("\n")
    .filter((l) => l.includes('"agent starting"')).length;

const mountPoints = (list: { mountPoint: string; state: string }[]) => list.map((m) => `${m.mountPoint}:${m.state}`).sort();

describe("a killed agent comes back by itself", () => {
  test("mount list, vm list, mount add and two racing mount lists each restart it once", async () => {
    await hmOk(["mount", "add", NAME, share, "/mnt/a"]);
    const before = mountPoints((await hmOk(["mount", "list", NAME, "--json"])).json());
    expect(before).toEqual(["/mnt/a:ready"]);

    // mount list: the agent is restarted, says so on stderr, and the JSON on stdout is unchanged.
    let starts = agentStarts();
    const dead = await killAgent();
    expect(await vm.run(["cat", "/mnt/a/hello"])).toBe("hello");
    const list = await hmOk(["mount", "list", NAME, "--json"]);
    expect(mountPoints(list.json())).toEqual(before);
    expect(list.stderr).toContain(NOTE);
    expect(agentStarts()).toBe(starts + 1);
    const pid = readPidFile(instancePaths(NAME).agentPid)!;
    expect(pid).not.toBe(dead);
    expect(isAlive(pid)).toBe(true);
    // A live agent is left alone.
    expect((await hmOk(["mount", "list", NAME])).stderr).not.toContain(NOTE);

    // vm list: the VM is running, with its mounts, and the human table says what happened.
    starts = agentStarts();
    await killAgent();
    const vmList = await hmOk(["vm", "list"]);
    expect(vmList.stderr).toContain(NOTE);
    expect(vmList.stdout).toMatch(new RegExp(`^${NAME}\\s+qemu\\s+running\\s.*\\s1$`, "m"));
    expect(agentStarts()).toBe(starts + 1);

    // mount add: works on the first try, beside the mount that was there.
    starts = agentStarts();
    await killAgent();
    const add = await hmOk(["mount", "add", NAME, share, "/mnt/b", "--type", "9p", "--json"]);
    expect(add.json().mountPoint).toBe("/mnt/b");
    expect(add.stderr).toContain(NOTE);
    expect(agentStarts()).toBe(starts + 1);
    expect(await vm.run(["cat", "/mnt/b/hello"])).toBe("hello");
    const both = mountPoints((await hmOk(["mount", "list", NAME, "--json"])).json());
    expect(both).toEqual(["/mnt/a:ready", "/mnt/b:ready"]);

    // Two commands race: one restarts the agent, the other waits for it and answers.
    starts = agentStarts();
    await killAgent();
    const [r1, r2] = await Promise.all([hm(["mount", "list", NAME, "--json"]), hm(["mount", "list", NAME, "--json"])]);
    expect([r1.code, r2.code]).toEqual([0, 0]);
    expect(mountPoints(r1.json())).toEqual(both);
    expect(mountPoints(r2.json())).toEqual(both);
    expect([r1, r2].filter((r) => r.stderr.includes(NOTE)).length).toBe(1);
    expect(agentStarts()).toBe(starts + 1);
  }, 600_000);

  test("vm list counts the journaled mounts while the agent cannot be restarted", async () => {
    await hmOk(["mount", "add", NAME, share, "/mnt/j"]);
    await hmOk(["mount", "add", NAME, share, "/mnt/k", "--type", "9p"]);
    const starts = agentStarts();
    await killAgent();
    // Another process (this test) holds the instance: a listing does not wait for it.
    const lock = instancePaths(NAME).lock;
    writeFileSync(lock, String(process.pid));
    try {
      const rows = (await hmOk(["vm", "list", "--json"])).json() as { name: string; state: string; mounts: number }[];
      expect(rows.find((r) => r.name === NAME)).toMatchObject({ state: "broken", mounts: 2 });
      expect(agentStarts()).toBe(starts);
    } finally {
      rmSync(lock, { force: true });
    }
    const rows = (await hmOk(["vm", "list", "--json"])).json() as { name: string; state: string; mounts: number }[];
    expect(rows.find((r) => r.name === NAME)).toMatchObject({ state: "running", mounts: 2 });
    expect(agentStarts()).toBe(starts + 1);
  }, 300_000);
});

describe.skipIf(!tmuxAvailable())("the TUI", () => {
  const sessions: TmuxSession[] = [];
  afterEach(() => sessions.splice(0).forEach((s) => s.kill()));

  test("opened on a VM whose agent was killed, it shows the mount and says the agent was restarted", async () => {
    await hmOk(["mount", "add", NAME, share, "/mnt/tui"]);
    const starts = agentStarts();
    await killAgent();
    const t = new TmuxSession(120, 30);
    sessions.push(t);
    const bin = process.env.HOTMOUNT_BIN || "./hotmount";
    t.start(withTerminalReport(`${bin} tui`), resolve(import.meta.dir, "../.."), { HOTMOUNT_HOME: process.env.HOTMOUNT_HOME ?? "" });
    await t.waitFor("Instances", 60_000);
    await t.waitFor(NOTE, 120_000);
    await selectInstance(t, NAME);
    await t.waitFor(/\/mnt\/tui\s+\S+\s+ro\s+watch\s+ready/, 60_000);
    expect(agentStarts()).toBe(starts + 1);
    await t.key("q");
    await t.waitFor("TUI-EXIT=0");
  }, 300_000);
});

describe("shell NAME CMD ARGS", () => {
  test("the command's options need no --, and -- still works", async () => {
    await hmOk(["mount", "add", NAME, share, "/mnt/sh", "--writable"]);
    expect((await hmOk(["shell", NAME, "sh", "-c", "echo hi > /mnt/sh/f"])).code).toBe(0);
    expect(readFileSync(join(share, "f"), "utf8")).toBe("hi\n");
    const ls = await hmOk(["shell", NAME, "ls", "-la", "/mnt/sh"]);
    expect(ls.stdout).toMatch(/^-.*\shello$/m);
    const dashed = await hmOk(["shell", NAME, "--", "ls", "-a", "/mnt/sh"]);
    expect(dashed.stdout.split("\n")).toContain("..");
    const failing = await hm(["shell", NAME, "sh", "-c", "exit 7"]);
    expect(failing.code).toBe(7);
  }, 180_000);
});

describe("one agent per instance", () => {
  test("a second `hotmount agent NAME` (e.g. from a service manager) refuses with exit 5 and leaves the first alone", async () => {
    await hmOk(["mount", "list", NAME]); // the agent is up (restarted if an earlier test left it dead)
    const pid = readPidFile(instancePaths(NAME).agentPid)!;
    expect(isAlive(pid)).toBe(true);
    const second = await hm(["agent", NAME], { timeoutMs: 60_000 });
    expect(second.code).toBe(5);
    expect(second.stdout).toContain(`the agent of \\"${NAME}\\" already runs (pid ${pid})`);
    expect(readPidFile(instancePaths(NAME).agentPid)).toBe(pid);
    expect(isAlive(pid)).toBe(true);
    expect((await hmOk(["mount", "list", NAME])).stderr).not.toContain(NOTE);
  });
});
