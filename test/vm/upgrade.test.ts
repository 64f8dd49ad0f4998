// Upgrades with real binaries: the binary of the last commit before versioning (what users run
// today, PREVIOUS below), built from git, meets this one on a running VM. An old agent (started
// by the old binary, with a mount) and the new CLI: it works, and the old agent keeps running with
// its mount. The old agent killed: the new CLI revives an agent of its own that keeps the mounts.
// The new agent and the old CLI: it works (API 1 unchanged). The decisions themselves (a newer
// agent or journal refused with exit 19) are unit-tested in test/unit/versions.test.ts.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { instancePaths } from "../../src/core/paths.ts";
import { cmdlineOf, isAlive, waitUntil } from "../../src/util/process.ts";
import { hm, hmOk } from "../helpers/cli.ts";

/** hotmount 0.1.0 as of the last commit before the agent API carried a version. */
const PREVIOUS = "1e17e85";
const REPO = join(import.meta.dir, "../..");
const NAME = "upg";
const dir = mkdtempSync(join(tmpdir(), "hm-upgrade-"));
const tree = join(dir, "prev");
const oldBin = join(dir, "hotmount-prev");
const share = join(dir, "share");
mkdirSync(share);
writeFileSync(join(share, "hello.txt"), "hello");

const git = (...args: string[]) => Bun.spawnSync(["git", "-C", REPO, ...args], { stdout: "pipe", stderr: "pipe" });
const available = git("cat-file", "-e", `${PREVIOUS}^{commit}`).exitCode === 0;
if (!available) console.warn(`test/vm/upgrade.test.ts skipped: commit ${PREVIOUS} is not in this clone (a shallow clone?)`);
const t = available ? test : test.skip;

/** The old binary, as a user or an app would run it (the same HOTMOUNT_HOME as the new one). */
function old(...args: string[]) {
  const r = Bun.spawnSync([oldBin, ...args], { env: { ...process.env }, stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}
const agentPid = () => Number(readFileSync(instancePaths(NAME).agentPid, "utf8"));

beforeAll(() => {
  if (!available) return;
  const steps: [string, string[]][] = [
    [REPO, ["git", "worktree", "add", "--detach", tree, PREVIOUS]],
    [tree, ["bun", "install", "--frozen-lockfile"]],
    [tree, ["bun", "scripts/build.ts", "--host", "--outdir", dir]],
  ];
  for (const [cwd, argv] of steps) {
    const r = Bun.spawnSync(argv, { cwd, stdout: "pipe", stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`${argv.join(" ")} failed:\n${r.stdout}${r.stderr}`);
  }
  Bun.spawnSync(["mv", join(dir, "hotmount"), oldBin]);
  console.log(`previous binary (${PREVIOUS}): ${old("version", "--json").stdout.replace(/\s+/g, " ")}`);
}, 300_000);

afterAll(async () => {
  if (available) {
    await hm(["vm", "stop", NAME]);
    git("worktree", "remove", "--force", tree);
    git("worktree", "prune");
  }
  rmSync(dir, { recursive: true, force: true });
}, 120_000);

t(
  "an old agent and the new CLI: it works, and the old agent keeps running with its mount",
  async () => {
    const start = old("vm", "start", NAME, "--memory", "384M", "--slots", "2", "--9p-slots", "0");
    expect(start.code).toBe(0);
    const add = old("mount", "add", NAME, share, "/mnt/old", "--writable", "--json");
    expect(add.code).toBe(0);
    const pid = agentPid();
    expect(cmdlineOf(pid)).toContain(oldBin);
    const listed = (await hmOk(["mount", "list", NAME, "--json"])).json() as { mountPoint: string; state: string }[];
    expect(listed.map((m) => [m.mountPoint, m.state])).toEqual([["/mnt/old", "ready"]]);
    await hmOk(["mount", "add", NAME, share, "/mnt/new"]);
    expect((await hmOk(["shell", NAME, "cat", "/mnt/new/hello.txt"])).stdout).toBe("hello");
    await hmOk(["mount", "remove", NAME, "/mnt/new"]);
    expect(agentPid()).toBe(pid);
    expect(isAlive(pid)).toBe(true);
  },
  300_000,
);

t(
  "the old agent killed: the new CLI starts its own agent, which keeps the mount; the old CLI works with it",
  async () => {
    const pid = agentPid();
    process.kill(pid, "SIGKILL");
    expect(await waitUntil(() => !isAlive(pid), 5000)).toBe(true);
    const listed = (await hmOk(["mount", "list", NAME, "--json"])).json() as { mountPoint: string; state: string }[];
    expect(listed.map((m) => [m.mountPoint, m.state])).toEqual([["/mnt/old", "ready"]]);
    const fresh = agentPid();
    expect(fresh).not.toBe(pid);
    expect(cmdlineOf(fresh)).not.toContain(oldBin);
    expect((await hmOk(["shell", NAME, "cat", "/mnt/old/hello.txt"])).stdout).toBe("hello");
    // The old CLI and the new agent: API 1 is the same.
    const oldList = old("mount", "list", NAME, "--json");
    expect(oldList.code).toBe(0);
    expect(JSON.parse(oldList.stdout).map((m: { mountPoint: string }) => m.mountPoint)).toEqual(["/mnt/old"]);
    expect(old("mount", "remove", NAME, "/mnt/old").code).toBe(0);
    expect((await hmOk(["mount", "list", NAME, "--json"])).json()).toEqual([]);
  },
  300_000,
);
