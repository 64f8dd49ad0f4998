// Guest commands without sudo strings, on a real VM: the demo guest runs
// qemu-guest-agent on the runner's virtio-serial channel; guest-exec takes argv arrays with no
// shell in between; the agent runs its guest commands (mount, umount, /proc/mounts ...) over it,
// and falls back to SSH when qemu-ga does not answer.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { guestExecFor } from "../../src/guest-exec/index.ts";
import { QgaGuestExec } from "../../src/guest-exec/qga-exec.ts";
import { readInstanceConfig } from "../../src/core/instance-config.ts";
import { instancePaths } from "../../src/core/paths.ts";
import { QgaClient } from "../../src/guest-exec/qga-client.ts";
import { GuestSsh } from "../../src/guest-exec/ssh-client.ts";
import { hmOk } from "../helpers/cli.ts";
import { useVm } from "../helpers/vm.ts";

const NAME = "qga";
const vm = useVm(NAME, ["--memory", "384M"]);
let root: string;

/** A QGA session of the test's own; closed at once so the agent gets the (single-client) channel back. */
async function viaQga<T>(fn: (q: QgaGuestExec) => Promise<T>): Promise<T> {
  const q = new QgaGuestExec(instancePaths(NAME).qgaSock);
  try {
    return await fn(q);
  } finally {
    q.close();
  }
}

/** The agent's log so far; tests slice it at an offset taken before they act. */
const agentLog = () => readFileSync(instancePaths(NAME).agentLog, "utf8");
const viaLines = (text: string) => text.split("\n").filter((l) => l.includes('"guest commands via'));

/** qemu-ga starts alongside dropbear, so it may come up just after the boot's ready line. */
async function waitForQga(deadlineMs = 20_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  let why: string | null = "not tried";
  while (Date.now() < end) {
    why = await viaQga((q) => q.probe(1000));
    if (!why) return;
    await Bun.sleep(250);
  }
  throw new Error(`qemu-guest-agent did not answer: ${why}`);
}

/**
 * Runs fn with every dropbear in the guest (listener and sessions) stopped, so that a guest
 * command over SSH would hang instead of run. Pids are read each time: sessions come and go.
 */
async function withSshFrozen<T>(fn: () => Promise<T>): Promise<T> {
  vm.reconnect(); // the helper's session would time out while frozen
  const pids = (await viaQga((q) => q.run(["pidof", "dropbear"]))).trim().split(/\s+/);
  expect(pids.length).toBeGreaterThan(0);
  await viaQga((q) => q.run(["kill", "-STOP", ...pids]));
  try {
    return await fn();
  } finally {
    await viaQga((q) => q.exec(["kill", "-CONT", ...pids]));
  }
}

beforeAll(async () => {
  root = mkdtempSync(`${tmpdir()}/hmt-qga-`);
  await waitForQga();
});
afterAll(() => root && rmSync(root, { recursive: true, force: true }));

test("qemu-guest-agent answers on the VM's channel; a stale half-request does not confuse the next session", async () => {
  const c = await QgaClient.connect(instancePaths(NAME).qgaSock, { timeoutMs: 5000 });
  await c.ping();
  expect((await c.exec(["uname", "-n"])).stdout.trim()).toBe("hotmount");
  c.close();
  // A session that dies mid-request leaves bytes in the channel; the next one resyncs past them.
  let rawClosed!: () => void;
  const closed = new Promise<void>((r) => (rawClosed = r));
  const raw = await Bun.connect({ unix: instancePaths(NAME).qgaSock, socket: { data() {}, close: () => rawClosed() } });
  raw.write('{"execute": "guest-exec", "arguments": {"path": "tou');
  raw.end();
  await closed; // the half-request is flushed and that session is gone before the next one opens
  const c2 = await QgaClient.connect(instancePaths(NAME).qgaSock, { timeoutMs: 5000 });
  const r = await c2.exec(["sh", "-c", "echo out; echo err >&2; exit 3"]);
  expect(r).toEqual({ code: 3, stdout: "out\n", stderr: "err\n" });
  expect((await c2.exec(["/no/such/program"])).code).toBe(127);
  c2.close();
  const g = await guestExecFor(readInstanceConfig(NAME), () => GuestSsh.connect(readInstanceConfig(NAME).ssh));
  expect(g.via).toBe("qga");
  (g as QgaGuestExec).close();
});

test("guest-exec passes argv literally: quotes, spaces, $(), backticks, ; and globs run nothing", async () => {
  // No "/" in a folder name: the canaries would be made in the working directory of whatever shell ran.
  const name = `a b 'c' "d" $(touch qga-canary1) \`touch qga-canary2\`; touch qga-canary3 * \\ ü`;
  const dir = `/tmp/${name}`;
  await viaQga(async (q) => {
    await q.run(["mkdir", "--", dir]);
    // stdout comes back byte for byte, so the argument arrived unchanged
    expect(await q.run(["printf", "%s", name])).toBe(name);
  });
  // Checked over the other channel, SSH: the folder has exactly that name, and nothing ran.
  // (find, not ls: busybox ls prints non-ASCII bytes as "?")
  const listing = (await vm.run(["find", "/tmp", "-mindepth", "1", "-maxdepth", "1"])).split("\n");
  expect(listing).toContain(dir);
  expect((await vm.exec(["test", "-d", dir])).code).toBe(0);
  expect(await vm.run(["find", "/", "/tmp", "/run", "/root", "-xdev", "-name", "qga-canary*"])).toBe("");
  await viaQga((q) => q.run(["rmdir", "--", dir]));
  expect((await vm.exec(["test", "-e", dir])).code).not.toBe(0);
});

test("virtiofs mount add and remove run their guest commands over QGA, with the guest's SSH server stopped", async () => {
  const host = join(root, "share");
  mkdirSync(host);
  writeFileSync(join(host, "hello.txt"), "hello over virtiofs");
  const before = agentLog().length;
  const added = await withSshFrozen(async () => (await hmOk(["mount", "add", NAME, host, "/mnt/share", "--json"], { timeoutMs: 60_000 })).json());
  expect(added.state).toBe("ready");
  expect(await vm.run(["cat", "/mnt/share/hello.txt"])).toBe("hello over virtiofs");
  await withSshFrozen(() => hmOk(["mount", "remove", NAME, "/mnt/share"], { timeoutMs: 60_000 }));
  expect(await vm.run(["cat", "/proc/mounts"])).not.toContain("/mnt/share");
  const log = agentLog().slice(before);
  expect(log).toContain('"msg":"mounted"');
  expect(log).toContain('"msg":"removed"');
  expect(viaLines(log).filter((l) => l.includes("via ssh"))).toEqual([]);
  expect(viaLines(agentLog()).at(-1)).toContain("guest commands via qga");
});

test("with qemu-ga gone the agent falls back to SSH, and returns to QGA when it is back", async () => {
  const host = join(root, "fallback");
  mkdirSync(host);
  writeFileSync(join(host, "f.txt"), "fallback");
  // Moved away first: init respawns qemu-ga, and it must stay gone.
  await vm.sh("mv /usr/sbin/qemu-ga /usr/sbin/qemu-ga.off && kill -KILL $(pidof qemu-ga)");
  try {
    expect(await viaQga((q) => q.probe(1000))).not.toBeNull();
    await hmOk(["mount", "add", NAME, host, "/mnt/fb", "--json"], { timeoutMs: 60_000 });
    expect(await vm.run(["cat", "/mnt/fb/f.txt"])).toBe("fallback");
    await hmOk(["mount", "remove", NAME, "/mnt/fb"], { timeoutMs: 60_000 });
    const via = viaLines(agentLog()).at(-1);
    expect(via).toContain("guest commands via ssh");
    expect(via).toContain("qemu-guest-agent did not answer");
  } finally {
    await vm.sh("mv /usr/sbin/qemu-ga.off /usr/sbin/qemu-ga");
  }
  await waitForQga();
  // The agent may switch back before this add (its guest-health check runs every few seconds and
  // logs the switch when it makes it): what counts is that nothing after qemu-ga's return ran over
  // SSH, and that the agent's last word is QGA.
  const mid = agentLog().length;
  await hmOk(["mount", "add", NAME, host, "/mnt/fb", "--json"], { timeoutMs: 60_000 });
  await hmOk(["mount", "remove", NAME, "/mnt/fb"], { timeoutMs: 60_000 });
  expect(viaLines(agentLog().slice(mid)).filter((l) => l.includes("via ssh"))).toEqual([]);
  expect(viaLines(agentLog()).at(-1)).toContain("guest commands via qga");
});
