// On a real VM: virtiofs hot-mount end to end through the CLI and the agent.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AgentClient } from "../../src/client/agent-client.ts";
import { hm, hmOk } from "../helpers/cli.ts";
import { ourProcesses } from "../helpers/leaks.ts";
import { useVm } from "../helpers/vm.ts";
import { instancePaths } from "../../src/core/paths.ts";

const NAME = "vfs";
const vm = useVm(NAME, ["--slots", "8"]);
let root: string;

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const dir = (n: string) => {
  const d = join(root, n);
  mkdirSync(d, { recursive: true });
  return d;
};
const virtiofsds = () => ourProcesses().filter((p) => p.argv.includes("virtiofsd"));
/** The C virtiofsd forks into a sandbox: count shares by socket, not processes. */
const virtiofsdShares = () => new Set(virtiofsds().map((p) => /--socket-path[= ](\S+)/.exec(p.argv)?.[1])).size;

async function add(host: string, guest: string, ...flags: string[]) {
  return (await hmOk(["mount", "add", NAME, host, guest, "--json", ...flags])).json();
}

beforeAll(() => {
  root = mkdtempSync(`${tmpdir()}/hmt-vfs-`);
});
afterAll(() => root && rmSync(root, { recursive: true, force: true }));

describe("writable virtiofs mount", () => {
  test("64 MiB and 1000 small files cross both ways with equal sha256", async () => {
    const host = dir("rw");
    const big = randomBytes(64 << 20);
    writeFileSync(join(host, "big.bin"), big);
    mkdirSync(join(host, "small"));
    for (let i = 0; i < 1000; i++) writeFileSync(join(host, "small", `f${i}`), randomBytes(1 + (i % 3000)));
    const m = await add(host, "/mnt/rw", "--writable");
    expect(m).toMatchObject({ type: "virtiofs", writable: true, state: "ready", mountPoint: "/mnt/rw" });

    // host → guest
    expect((await vm.run(["sha256sum", "/mnt/rw/big.bin"])).split(" ")[0]).toBe(sha(big));
    const guestList = await vm.sh("cd /mnt/rw/small && sha256sum f* | sort");
    const hostList = await Bun.$`cd ${join(host, "small")} && sha256sum f* | sort`.text();
    expect(guestList).toBe(hostList);

    // guest → host
    await vm.sh(
      "dd if=/dev/urandom of=/mnt/rw/from-guest.bin bs=1M count=64 2>/dev/null && mkdir /mnt/rw/gsmall && cd /mnt/rw/gsmall && i=0; while [ $i -lt 1000 ]; do head -c $((i % 2000 + 1)) /dev/urandom > g$i; i=$((i+1)); done; sync",
      300_000,
    );
    const guestBig = (await vm.run(["sha256sum", "/mnt/rw/from-guest.bin"])).split(" ")[0];
    expect(sha(readFileSync(join(host, "from-guest.bin")))).toBe(guestBig!);
    const g2 = await vm.sh("cd /mnt/rw/gsmall && sha256sum g* | sort");
    const h2 = await Bun.$`cd ${join(host, "gsmall")} && sha256sum g* | sort`.text();
    expect(h2.split("\n").length).toBe(1001);
    expect(g2).toBe(h2);
    await hmOk(["mount", "remove", NAME, "/mnt/rw"]);
  });

  test("read-only refuses writes with EROFS, even after guest root remounts it rw", async () => {
    const host = dir("ro");
    writeFileSync(join(host, "keep.txt"), "keep");
    const m = await add(host, "/mnt/ro");
    expect(m.writable).toBe(false);
    expect(await vm.run(["cat", "/mnt/ro/keep.txt"])).toBe("keep");
    const w = await vm.exec(["sh", "-c", "echo x > /mnt/ro/new.txt"]);
    expect(w.code).not.toBe(0);
    expect(w.stderr).toMatch(/Read-only file system/);
    // Guest root can flip the guest-side flag; the host's read-only bind mount still refuses.
    await vm.run(["mount", "-o", "remount,rw", "/mnt/ro"]);
    const w2 = await vm.exec(["sh", "-c", "echo x > /mnt/ro/new.txt"]);
    expect(w2.code).not.toBe(0);
    expect(existsSync(join(host, "new.txt"))).toBe(false);
    await hmOk(["mount", "remove", NAME, m.id]);
  });
});

test("guest root cannot make a device node in the host folder; a fifo it can", async () => {
  const host = dir("nodev");
  const m = await add(host, "/mnt/nodev", "--writable");
  const r = await vm.exec(["mknod", "/mnt/nodev/mem", "c", "1", "1"]);
  expect(r.code).not.toBe(0);
  expect(r.stderr).toMatch(/not permitted/i);
  expect(existsSync(join(host, "mem"))).toBe(false);
  await vm.run(["mknod", "/mnt/nodev/fifo", "p"]);
  expect(statSync(join(host, "fifo")).isFIFO()).toBe(true);
  await hmOk(["mount", "remove", NAME, m.id]);
});

test("8 mounts fill an 8-slot VM; the 9th is refused with how to get more; a freed slot is reused", async () => {
  const ids: string[] = [];
  for (let i = 0; i < 8; i++) ids.push((await add(dir(`s${i}`), `/mnt/s${i}`)).id);
  const ninth = await hm(["mount", "add", NAME, dir("s8"), "/mnt/s8", "--json"]);
  expect(ninth.code).toBe(7);
  expect(ninth.json().error.code).toBe("NO_FREE_SLOT");
  expect(ninth.json().error.hint).toContain("--slots");
  const human = await hm(["mount", "add", NAME, dir("s8"), "/mnt/s8"]);
  expect(human.stderr).toMatch(/all 8 hot-plug slots are in use/);
  const list = (await hmOk(["mount", "list", NAME, "--json"])).json();
  expect(list.length).toBe(8);
  expect(new Set(list.map((m: any) => m.slot)).size).toBe(8);
  const freed = list.find((m: any) => m.id === ids[3]).slot;
  await hmOk(["mount", "remove", NAME, "/mnt/s3"]);
  const m9 = await add(dir("s8"), "/mnt/s8");
  expect(m9.slot).toBe(freed);
  expect(await vm.run(["sh", "-c", "grep -c ' virtiofs ' /proc/mounts"])).toBe("8\n");
  for (const mp of ["/mnt/s0", "/mnt/s1", "/mnt/s2", "/mnt/s4", "/mnt/s5", "/mnt/s6", "/mnt/s7", "/mnt/s8"]) await hmOk(["mount", "remove", NAME, mp]);
});

test("50 add/remove cycles leave 0 virtiofsd, 0 chardevs, 0 devices and 0 guest mounts", async () => {
  const host = dir("cycle");
  writeFileSync(join(host, "n"), "1");
  for (let i = 0; i < 50; i++) {
    const added = await hm(["mount", "add", NAME, host, "/mnt/cycle"], { timeoutMs: 60_000 });
    if (added.code !== 0) {
      // What the guest has at the path, and the agent's last words, go into the failure message.
      const mounts = (await vm.run(["cat", "/proc/mounts"])).split("\n").filter((l) => l.includes("/mnt/cycle"));
      const log = readFileSync(instancePaths(NAME).agentLog, "utf8").split("\n").slice(-60).join("\n");
      throw new Error(`cycle ${i}: add exited ${added.code}: ${added.stderr}\nguest mounts at the path: ${JSON.stringify(mounts)}\nagent log tail:\n${log}`);
    }
    await hmOk(["mount", "remove", NAME, "/mnt/cycle"]);
  }
  const inv = await new AgentClient(NAME).inventory();
  expect(inv.devices).toEqual([]);
  expect(inv.backends).toEqual([]);
  expect(virtiofsds()).toEqual([]);
  expect(await vm.run(["cat", "/proc/mounts"])).not.toMatch(/virtiofs/);
  expect((await vm.exec(["test", "-e", "/mnt/cycle"])).code).not.toBe(0);
  expect((await hmOk(["vm", "list", "--json"])).json().find((i: any) => i.name === NAME).slots.used).toBe(0);
}, 600_000);

describe("remove while busy", () => {
  test("is refused naming the holder; --force removes; fsynced guest data is on the host", async () => {
    const host = dir("busy");
    await add(host, "/mnt/busy", "--writable");
    // A guest process writes, fsyncs, and keeps the file open.
    await vm.sh(
      "dd if=/dev/urandom of=/mnt/busy/data bs=64k count=16 conv=fsync 2>/dev/null; sha256sum /mnt/busy/data > /root/busy.sum; (exec 3</mnt/busy/data; sleep 600) </dev/null >/dev/null 2>&1 &",
    );
    const r = await hm(["mount", "remove", NAME, "/mnt/busy", "--json"]);
    expect(r.code).toBe(9);
    expect(r.json().error.code).toBe("MOUNT_BUSY");
    expect(r.json().error.message).toMatch(/sleep/);
    expect((await hmOk(["mount", "list", NAME, "--json"])).json()[0].state).toBe("ready");
    const want = (await vm.run(["cat", "/root/busy.sum"])).split(" ")[0];
    expect(sha(readFileSync(join(host, "data")))).toBe(want!);
    await hmOk(["mount", "remove", NAME, "/mnt/busy", "--force"]);
    expect(await vm.run(["cat", "/proc/mounts"])).not.toContain("/mnt/busy");
    expect(sha(readFileSync(join(host, "data")))).toBe(want!);
    expect(virtiofsds()).toEqual([]);
  });
});

test("guest paths: default mirrors the host path; an existing guest mount point is refused", async () => {
  const host = dir("mirror");
  const m = (await hmOk(["mount", "add", NAME, host, "--json"])).json();
  expect(m.mountPoint).toBe(host);
  const again = await hm(["mount", "add", NAME, dir("other"), host, "--json"]);
  expect(again.code).toBe(6);
  const proc = await hm(["mount", "add", NAME, dir("other"), "/proc", "--json"]);
  expect(proc.code).toBe(2);
  const sys = await hm(["mount", "add", NAME, dir("other"), "/run", "--json"]);
  expect(sys.json().error.code).toBe("INVALID_ARGUMENT");
  const guestOwn = await hm(["mount", "add", NAME, dir("other"), "/dev/shm", "--json"]);
  expect(guestOwn.code).toBe(2);
  await hmOk(["mount", "remove", NAME, host]);
});

test("vm stop with mounts attached tears them down and leaves no process", async () => {
  await add(dir("a1"), "/mnt/a1", "--writable");
  await add(dir("a2"), "/mnt/a2");
  expect(virtiofsdShares()).toBe(2);
  await hmOk(["vm", "stop", NAME]);
  expect(ourProcesses().filter((p) => p.argv.includes(`/${NAME}/`))).toEqual([]);
  const l = (await hmOk(["vm", "list", "--json"])).json().find((i: any) => i.name === NAME);
  expect(l.state).toBe("stopped");
});
