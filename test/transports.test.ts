// Issue 4 acceptance on a real VM: reverse-sshfs and 9p end to end through the CLI and the agent
// (bytes both ways, read-only, list/remove, 30 cycles with nothing left, a killed sftp-server, an
// SSH drop, awkward host paths for every type, the umount deadline), and 9p on a VM without slots.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cVirtiofsdOptValue } from "../drivers/qemu/virtiofsd.ts";
import { findSftpServer, guestSshfsCommand } from "../src/agent/transports/reverse-sshfs.ts";
import { guestMountArgv, reverseSshfsArgv, sftpServerArgs } from "../src/core/mount-options.ts";
import { AgentClient } from "../src/client/agent-client.ts";
import { instancePaths, ninePSlotLink } from "../src/core/paths.ts";
import { hm, hmOk } from "./helpers/cli.ts";
import { ourProcesses } from "./helpers/leaks.ts";
import { useVm } from "./helpers/vm.ts";

const NAME = "tr";
const NINEP_SLOTS = 4;
const vm = useVm(NAME, ["--slots", "6", "--9p-slots", String(NINEP_SLOTS)]);
const root = mkdtempSync("/tmp/hmt-tr-");
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface Kind {
  /** What the user types after --type (sshfs is the alias of reverse-sshfs). */
  flag: string;
  type: "reverse-sshfs" | "9p";
  fstype: string;
}
const SSHFS: Kind = { flag: "sshfs", type: "reverse-sshfs", fstype: "fuse.sshfs" };
const NINEP: Kind = { flag: "9p", type: "9p", fstype: "9p" };
const KINDS = [SSHFS, NINEP];

const sha = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");
const hostDir = (...parts: string[]) => {
  const d = join(root, ...parts);
  mkdirSync(d, { recursive: true });
  return d;
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (t0: number) => performance.now() - t0;

async function add(host: string, guest: string, k: Kind, ...flags: string[]) {
  return (await hmOk(["mount", "add", NAME, host, guest, "--type", k.flag, "--json", ...flags])).json();
}
async function list(): Promise<any[]> {
  return (await hmOk(["mount", "list", NAME, "--json"])).json();
}
async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs: number, everyMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(everyMs);
  }
}

/** The guest's /proc/mounts, unescaped. */
async function guestMounts(): Promise<{ source: string; mountPoint: string; fstype: string; opts: string }[]> {
  const un = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(Number.parseInt(o, 8)));
  return (await vm.run(["cat", "/proc/mounts"]))
    .split("\n")
    .filter(Boolean)
    .map((l) => {
      const [source = "", mp = "", fstype = "", opts = ""] = l.split(" ");
      return { source: un(source), mountPoint: un(mp), fstype, opts };
    });
}
const ourGuestMounts = async () => (await guestMounts()).filter((m) => m.fstype === "9p" || m.fstype === "fuse.sshfs" || m.fstype === "virtiofs");
const guestSshfsPids = async () => (await vm.exec(["pidof", "sshfs"])).stdout.trim().split(/\s+/).filter(Boolean).map(Number);
/** dropbear processes in the guest: one listener, one per SSH connection. */
const guestDropbears = async () => (await vm.exec(["pidof", "dropbear"])).stdout.trim().split(/\s+/).filter(Boolean).length;
/** Guest user processes, as "pid comm", leaving out kernel threads. */
async function guestProcesses(): Promise<{ pid: number; comm: string }[]> {
  return (await vm.run(["ps", "-o", "pid,ppid,comm"]))
    .split("\n")
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 3 && f[0] !== "2" && f[1] !== "2")
    .map((f) => ({ pid: Number(f[0]), comm: f[2]! }));
}
let baseComms = new Set<string>();
/** Guest processes that were not there before this file's first test (ps and its shell aside). */
const guestStrays = async () => (await guestProcesses()).filter((p) => !baseComms.has(p.comm) && p.comm !== "ps" && p.comm !== "sh").map((p) => `${p.pid} ${p.comm}`);
const sftpServers = () => ourProcesses().filter((p) => p.argv.includes("sftp-server"));
/** virtio devices bound to the guest's 9p driver (a 9p device still plugged). */
const guest9pDevices = async () => (await vm.run(["ls", "/sys/bus/virtio/drivers/9pnet_virtio/"])).split(/\s+/).filter((n) => n.startsWith("virtio"));

/** sha256 of every file in a host folder, as sorted "hash  name" lines (sha256sum's format). */
function hostShas(dir: string): string[] {
  return readdirSync(dir)
    .map((n) => `${sha(readFileSync(join(dir, n)))}  ${n}`)
    .sort();
}
/** The same from the guest, four readers at a time (sshfs's round trips overlap; ~1.5x faster). */
async function guestShas(dir: string): Promise<string[]> {
  const out = await vm.run(["sh", "-c", 'cd "$1" && ls | xargs -P 4 -n 50 sha256sum', "sh", dir], 300_000);
  return out.split("\n").filter(Boolean).sort();
}

async function nothingLeft() {
  expect(await list()).toEqual([]);
  expect(await ourGuestMounts()).toEqual([]);
  expect(await guestSshfsPids()).toEqual([]);
  expect(await guestStrays()).toEqual([]);
  expect(sftpServers()).toEqual([]);
  // The listener, the agent's one connection and this test's: no SSH session left behind.
  expect(await guestDropbears()).toBeLessThanOrEqual(3);
  expect(await guest9pDevices()).toEqual([]);
  const inv = await new AgentClient(NAME).inventory();
  expect(inv.devices).toEqual([]);
  expect(inv.backends).toEqual([]);
  const empty = join(instancePaths(NAME).ninePDir, "empty");
  for (let n = 0; n < NINEP_SLOTS; n++) expect(readlinkSync(ninePSlotLink(NAME, n))).toBe(empty);
  expect((await hmOk(["vm", "list", "--json"])).json().find((i: any) => i.name === NAME).slots.used).toBe(0);
}

beforeAll(async () => {
  baseComms = new Set((await guestProcesses()).map((p) => p.comm));
  expect(baseComms.has("sshfs")).toBe(false);
});

describe("the options, as argv", () => {
  test("9p: 9p2000.L, msize 512000, cache=none, ro unless writable", () => {
    expect(guestMountArgv({ type: "9p", tag: "hm1", mountPoint: "/mnt/a b", writable: false })).toEqual(
      ["mount", "-t", "9p", "-o", "trans=virtio,version=9p2000.L,msize=512000,cache=none,ro", "--", "hm1", "/mnt/a b"]);
  });
  test("reverse-sshfs: passive, host uids, kernel permission checks, 1 s caches; sftp-server -R when read-only", () => {
    const a = reverseSshfsArgv("/h/x,y", "/mnt/x", false);
    expect(a).toEqual(["sshfs", "-f", "-o", "passive,idmap=none,allow_other,default_permissions,dcache_timeout=1,ro", ":/h/x,y", "/mnt/x"]);
    expect(sftpServerArgs("/h/50%", false)).toEqual(["-e", "-R", "-d", "/h/50%%"]);
    expect(sftpServerArgs("/h", true)).toEqual(["-e", "-d", "/h"]);
    // The prologue is constant; sshfs's argv follows it untouched.
    expect(guestSshfsCommand(a).slice(4)).toEqual(a);
  });
  test("the C virtiofsd's -o source= escapes commas and backslashes", () => {
    expect(cVirtiofsdOptValue(String.raw`/a,b\c d`)).toBe(String.raw`/a\,b\\c d`);
  });
});

describe.each(KINDS)("$type", (k) => {
  test("8 MiB and 1000 small files cross both ways with equal sha256; host edits show within 2 s", async () => {
    const host = hostDir(`data-${k.flag}`);
    const big = randomBytes(8 << 20);
    writeFileSync(join(host, "big.bin"), big);
    mkdirSync(join(host, "small"));
    for (let i = 0; i < 1000; i++) writeFileSync(join(host, "small", `f${i}`), randomBytes(1 + ((i * 37) % 4000)));
    const mp = `/mnt/data-${k.flag}`;
    const m = await add(host, mp, k, "--writable");
    expect(m).toMatchObject({ type: k.type, writable: true, state: "ready", mountPoint: mp, hostPath: host });
    const gm = (await guestMounts()).find((x) => x.mountPoint === mp);
    expect(gm?.fstype).toBe(k.fstype);
    expect(gm?.opts).toMatch(/^rw,/);

    const phases: string[] = [];
    const phase = async <T,>(name: string, fn: () => Promise<T>): Promise<T> => {
      const t = performance.now();
      const v = await fn();
      phases.push(`${name} ${(ms(t) / 1000).toFixed(1)} s`);
      return v;
    };
    // host → guest
    expect((await phase("read 8 MiB", () => vm.run(["sha256sum", `${mp}/big.bin`]))).split(" ")[0]).toBe(sha(big));
    const fromHost = await phase("read 1000 files", () => guestShas(`${mp}/small`));
    expect(fromHost.length).toBe(1000);
    expect(fromHost).toEqual(hostShas(join(host, "small")));

    // guest → host: 8 MiB and 1000 files made in the guest's tmpfs (sha256 taken there), then
    // copied onto the mount (one write per small file, four copiers at a time).
    await vm.run(["sh", "-c", "dd if=/dev/urandom of=/tmp/big.bin bs=1M count=8 2>/dev/null"]);
    const guestBig = (await vm.run(["sha256sum", "/tmp/big.bin"])).split(" ")[0]!;
    await phase("write 8 MiB", () => vm.run(["sh", "-c", 'cp /tmp/big.bin "$1/from-guest.bin" && sync && rm /tmp/big.bin', "sh", mp]));
    expect(sha(readFileSync(join(host, "from-guest.bin")))).toBe(guestBig);
    await vm.run(["sh", "-c", "rm -rf /tmp/gsmall && mkdir /tmp/gsmall && cd /tmp/gsmall && awk 'BEGIN { srand(); for (i = 0; i < 1000; i++) { n = 1 + (i * 7) % 60; s = \"\"; for (j = 0; j < n; j++) s = s sprintf(\"%.15f\\n\", rand()); f = \"g\" i; printf \"%s\", s > f; close(f) } }'"]);
    const made = await guestShas("/tmp/gsmall");
    expect(made.length).toBe(1000);
    await phase("write 1000 files", () => vm.run(["sh", "-c", `mkdir "$1/gsmall" && cd /tmp/gsmall && ls | xargs -P 4 -n 50 sh -c 'cp -- "$@" "$0"' "$1/gsmall" && sync && rm -rf /tmp/gsmall`, "sh", mp], 600_000));
    expect(hostShas(join(host, "gsmall"))).toEqual(made);
    console.error(`[${k.type}] ${phases.join(", ")}`);

    // A host edit of a file the guest has just read (and a new file in a listed folder) shows in
    // the guest within 2 s. sshfs's default caches would hide both for 20 s.
    writeFileSync(join(host, "edit"), "v1\n");
    expect(await vm.run(["cat", `${mp}/edit`])).toBe("v1\n");
    await vm.run(["ls", mp]);
    appendFileSync(join(host, "edit"), "v2 is longer\n");
    writeFileSync(join(host, "late"), "late\n");
    const t0 = performance.now();
    await waitFor("the host edit in the guest", async () => (await vm.exec(["cat", `${mp}/edit`, `${mp}/late`])).stdout === "v1\nv2 is longer\nlate\n", 2500, 100);
    console.error(`[${k.type}] host edit visible in the guest after ${Math.round(ms(t0))} ms`);
    await hmOk(["mount", "remove", NAME, mp]);
  }, 900_000);

  test("a read-only mount refuses writes, even after guest root remounts it rw", async () => {
    const host = hostDir(`ro-${k.flag}`);
    writeFileSync(join(host, "keep"), "keep\n");
    const mp = `/mnt/ro-${k.flag}`;
    const m = await add(host, mp, k); // read-only is the default
    expect(m).toMatchObject({ type: k.type, writable: false, state: "ready" });
    expect(await vm.run(["cat", `${mp}/keep`])).toBe("keep\n");
    const attempts = `cd "$1"; for c in "echo x > new" "echo x >> keep" "mkdir d" "rm keep" "chmod 777 keep" "mv keep moved" "ln -s keep l"; do sh -c "$c" 2>/dev/null && echo "WROTE: $c"; done; true`;
    expect(await vm.run(["sh", "-c", attempts, "sh", mp])).toBe("");
    // Guest root flips the guest's own ro flag: the host side (sftp-server -R / QEMU's
    // readonly fsdev) must still refuse.
    await vm.run(["mount", "-o", "remount,rw", mp]);
    expect((await guestMounts()).find((x) => x.mountPoint === mp)?.opts).toMatch(/^rw,/);
    expect(await vm.run(["sh", "-c", attempts, "sh", mp])).toBe("");
    const err = await vm.exec(["sh", "-c", 'echo x > "$1/new"', "sh", mp]);
    expect(err.stderr).toMatch(k.type === "9p" ? /Read-only file system/ : /Permission denied/);
    expect(readdirSync(host)).toEqual(["keep"]);
    expect(readFileSync(join(host, "keep"), "utf8")).toBe("keep\n");
    await hmOk(["mount", "remove", NAME, mp]);
  });

  test("mount list --json shows it; remove works by mount point and by id", async () => {
    const a = hostDir(`la-${k.flag}`);
    const b = hostDir(`lb-${k.flag}`);
    const ma = await add(a, "/mnt/la", k);
    const mb = await add(b, "/srv/lb/deep", k, "--writable");
    const l = await list();
    expect(l.length).toBe(2);
    const la = l.find((m) => m.id === ma.id);
    const lb = l.find((m) => m.id === mb.id);
    expect(la).toMatchObject({ instance: NAME, hostPath: a, mountPoint: "/mnt/la", type: k.type, writable: false, state: "ready", persist: false });
    expect(lb).toMatchObject({ hostPath: b, mountPoint: "/srv/lb/deep", type: k.type, writable: true, state: "ready" });
    expect(Number.isNaN(Date.parse(la.createdAt))).toBe(false);
    if (k.type === "9p") {
      expect(la.tag).toBe(ma.id);
      expect(la.slot).toMatch(/^hp\d+$/);
      expect(lb.slot).not.toBe(la.slot);
    } else {
      expect(la.tag).toBeUndefined();
      expect(la.slot).toBeUndefined();
      expect(sftpServers().length).toBe(2);
    }
    // The table view has the same rows.
    const table = (await hmOk(["mount", "list", NAME])).stdout;
    expect(table).toContain(ma.id);
    expect(table).toContain("/srv/lb/deep");

    const byMp = (await hmOk(["mount", "remove", NAME, "/mnt/la", "--json"])).json();
    expect(byMp).toEqual({ id: ma.id, mountPoint: "/mnt/la", removed: true });
    expect((await list()).map((m) => m.id)).toEqual([mb.id]);
    await hmOk(["mount", "rm", NAME, mb.id]);
    // The guest folders hotmount made are gone again (/srv/lb/deep only: /srv/lb was made by mkdir -p).
    expect((await vm.exec(["test", "-e", "/mnt/la"])).code).not.toBe(0);
    expect((await vm.exec(["test", "-e", "/srv/lb/deep"])).code).not.toBe(0);
    await vm.run(["rm", "-rf", "/srv/lb"]);
    const again = await hm(["mount", "remove", NAME, mb.id, "--json"]);
    expect(again.code).toBe(3);
    expect(again.json().error.code).toBe("MOUNT_NOT_FOUND");
    await nothingLeft();
  });

  test("30 add/remove cycles leave no process, device, slot or guest mount", async () => {
    // Two folders in turn: each cycle must show the folder it was given (a 9p slot is re-pointed
    // every time; a stale link would show the other one).
    const dirs = [hostDir(`cyc-${k.flag}`, "a"), hostDir(`cyc-${k.flag}`, "b")];
    dirs.forEach((d, i) => writeFileSync(join(d, "which"), `${"ab"[i]}\n`));
    const adds: number[] = [];
    const removes: number[] = [];
    for (let i = 0; i < 30; i++) {
      let t0 = performance.now();
      await hmOk(["mount", "add", NAME, dirs[i % 2]!, "/mnt/cyc", "--type", k.flag]);
      adds.push(ms(t0));
      expect(await vm.run(["cat", "/mnt/cyc/which"])).toBe(`${"ab"[i % 2]}\n`);
      t0 = performance.now();
      await hmOk(["mount", "remove", NAME, "/mnt/cyc"]);
      removes.push(ms(t0));
    }
    // The CLI's own start-up is part of each figure; `mount list` alone shows how much.
    let t0 = performance.now();
    await hmOk(["mount", "list", NAME]);
    const cli = ms(t0);
    console.error(`[${k.type}] 30 cycles through the CLI: add median ${median(adds).toFixed(0)} ms (max ${Math.max(...adds).toFixed(0)}), remove median ${median(removes).toFixed(0)} ms (max ${Math.max(...removes).toFixed(0)}); a bare \`mount list\` takes ${cli.toFixed(0)} ms`);
    expect((await vm.exec(["test", "-e", "/mnt/cyc"])).code).not.toBe(0);
    await nothingLeft();
  }, 600_000);

  test("remove refuses while a guest process uses the mount, keeps it working, and --force takes it", async () => {
    const host = hostDir(`busy-${k.flag}`);
    writeFileSync(join(host, "f"), "f\n");
    const m = await add(host, "/mnt/busy", k);
    await vm.run(["sh", "-c", "cd /mnt/busy && exec setsid sleep 3600 </dev/null >/dev/null 2>&1 &"]);
    const r = await hm(["mount", "remove", NAME, "/mnt/busy", "--json"]);
    expect(r.code).toBe(9);
    expect(r.json().error.code).toBe("MOUNT_BUSY");
    expect(r.json().error.message).toMatch(/held by \d+ sleep/);
    // Nothing was taken away: still listed ready, still mounted and served.
    expect((await list()).find((x) => x.id === m.id)?.state).toBe("ready");
    expect(await vm.run(["cat", "/mnt/busy/f"])).toBe("f\n");
    if (k.type === "reverse-sshfs") expect(sftpServers().length).toBe(1);
    else expect((await guest9pDevices()).length).toBe(1);
    await hmOk(["mount", "remove", NAME, "/mnt/busy", "--force"]);
    expect((await vm.exec(["sh", "-c", "ps | grep -v grep | grep 'sleep 3600'"])).stdout).toBe("");
    await nothingLeft();
  });
});

describe("reverse-sshfs supervision", () => {
  test("killing the host sftp-server: failed within seconds, and remove still cleans up", async () => {
    const host = hostDir("kill");
    writeFileSync(join(host, "f"), "f\n");
    const m = await add(host, "/mnt/kill", SSHFS, "--writable");
    expect(await vm.run(["cat", "/mnt/kill/f"])).toBe("f\n");
    const servers = sftpServers();
    expect(servers.length).toBe(1);
    expect(servers[0]!.argv).toContain(`-d ${host}`);
    process.kill(servers[0]!.pid, "SIGKILL");
    const t0 = performance.now();
    const failed = await waitFor("state failed", async () => (await list()).find((x) => x.id === m.id && x.state === "failed"), 5000, 100);
    console.error(`[reverse-sshfs] sftp-server killed: reported failed after ${Math.round(ms(t0))} ms`);
    expect(failed.error.code).toBe("MOUNT_BROKEN");
    expect(failed.error.message).toContain("sftp-server exited (SIGKILL)");
    expect(failed.error.hint).toMatch(/remove/i);
    // Not re-established behind the user's back: the host side was killed, not the connection.
    await Bun.sleep(1500);
    expect((await list()).find((x) => x.id === m.id)?.state).toBe("failed");
    // The guest never hangs on it: file access fails (or the mount is gone), it does not block.
    const probe = await vm.exec(["timeout", "10", "cat", "/mnt/kill/f"]);
    expect(probe.code).not.toBe(0);
    expect(probe.code).not.toBe(124);
    await hmOk(["mount", "remove", NAME, "/mnt/kill"]);
    await nothingLeft();
    expect((await vm.exec(["test", "-e", "/mnt/kill"])).code).not.toBe(0);
  });

  // Twice: a plain drop (sshfs sees EOF, exits and unmounts itself), then a drop while sshfs is
  // stopped, so it outlives its connection with the dead mount still in place: the agent must
  // kill it by pid and lazily unmount before mounting again.
  test.each([["sshfs running", false], ["sshfs stopped", true]])("an SSH drop under a live mount (%s): marked failed, then re-established by itself", async (_what, stopped) => {
    const host = hostDir(`drop-${stopped}`);
    writeFileSync(join(host, "f"), "before\n");
    const m = await add(host, "/mnt/drop", SSHFS, "--writable");
    const [pid] = await guestSshfsPids();
    expect(pid).toBeGreaterThan(1);
    // Kill the guest's dropbear child that carries the agent's connection (sshfs's parent).
    const ppid = (await vm.run(["sh", "-c", 'awk "{print \\$4}" /proc/$1/stat', "sh", String(pid)])).trim();
    expect(await vm.run(["cat", `/proc/${ppid}/comm`])).toBe("dropbear\n");
    if (stopped) await vm.run(["kill", "-STOP", String(pid)]);
    const logBefore = readFileSync(instancePaths(NAME).agentLog, "utf8").length;
    await vm.run(["kill", ppid]);
    const t0 = performance.now();
    const back = await waitFor("re-established", async () => {
      const x = (await list()).find((y) => y.id === m.id);
      const pids = await guestSshfsPids();
      return x?.state === "ready" && pids.length === 1 && pids[0] !== pid && x;
    }, 30_000, 200);
    console.error(`[reverse-sshfs] SSH dropped (${_what}): ready again after ${Math.round(ms(t0))} ms`);
    expect(back.error).toBeUndefined();
    const log = readFileSync(instancePaths(NAME).agentLog, "utf8").slice(logBefore);
    expect(log).toMatch(new RegExp(`"mount failed","id":"${m.id}".*SSH connection to the guest dropped`));
    expect(log).toMatch(new RegExp(`"mount re-established","id":"${m.id}"`));
    // The old sshfs is gone (killed, when it was stopped), and exactly one mount is there.
    expect(await guestSshfsPids()).not.toContain(pid);
    expect((await ourGuestMounts()).filter((x) => x.mountPoint === "/mnt/drop").length).toBe(1);
    // The new session serves both ways, with one sftp-server.
    writeFileSync(join(host, "after"), "after\n");
    expect(await vm.run(["cat", "/mnt/drop/f", "/mnt/drop/after"])).toBe("before\nafter\n");
    await vm.run(["sh", "-c", "echo from-guest > /mnt/drop/g"]);
    expect(readFileSync(join(host, "g"), "utf8")).toBe("from-guest\n");
    expect(sftpServers().length).toBe(1);
    await hmOk(["mount", "remove", NAME, m.id]);
    await nothingLeft();
  });

  test("remove with a stuck (stopped) sshfs: unmounted, sshfs killed by pid, nothing left", async () => {
    const host = hostDir("stuck");
    const m = await add(host, "/mnt/stuck", SSHFS);
    const [pid] = await guestSshfsPids();
    await vm.run(["kill", "-STOP", String(pid)]);
    const t0 = performance.now();
    await hmOk(["mount", "remove", NAME, m.id]);
    console.error(`[reverse-sshfs] remove with a stopped sshfs took ${Math.round(ms(t0))} ms`);
    expect(await guestSshfsPids()).toEqual([]);
    await nothingLeft();
  });

  test("no sshfs in the guest: a clear error naming what to install, and nothing left", async () => {
    await vm.run(["mv", "/usr/bin/sshfs", "/usr/bin/sshfs.away"]);
    try {
      const r = await hm(["mount", "add", NAME, hostDir("nosshfs"), "/mnt/nosshfs", "--type", "sshfs", "--json"]);
      expect(r.code).toBe(8);
      expect(r.json().error.message).toBe("sshfs is not installed in the guest");
      expect(r.json().error.hint).toContain("apt-get install sshfs");
    } finally {
      await vm.run(["mv", "/usr/bin/sshfs.away", "/usr/bin/sshfs"]);
    }
    expect((await vm.exec(["test", "-e", "/mnt/nosshfs"])).code).not.toBe(0);
    await nothingLeft();
    // sftp-server is found where this host keeps it; a host without one gets null (and the error).
    expect(findSftpServer()).toMatch(/\/sftp-server$/);
    expect(findSftpServer(["/nonexistent/sftp-server"])).toBeNull();
  });
});

describe("9p removal order", () => {
  test("a bind mount of the 9p device elsewhere in the guest: remove refuses instead of stalling the guest", async () => {
    const host = hostDir("bind");
    writeFileSync(join(host, "f"), "f\n");
    const m = await add(host, "/mnt/bsrc", NINEP);
    await vm.run(["sh", "-c", "mkdir -p /mnt/bdst && mount --bind /mnt/bsrc /mnt/bdst"]);
    const t0 = performance.now();
    const r = await hm(["mount", "remove", NAME, "/mnt/bsrc", "--json"]);
    expect(ms(t0)).toBeLessThan(8000);
    expect(r.code).toBe(9);
    expect(r.json().error.message).toContain("still mounted in the guest at /mnt/bdst");
    expect((await list()).find((x) => x.id === m.id)?.state).toBe("ready");
    expect((await guest9pDevices()).length).toBe(1);
    expect(await vm.run(["cat", "/mnt/bdst/f"])).toBe("f\n");
    await hmOk(["mount", "remove", NAME, "/mnt/bsrc", "--force"]);
    expect(await vm.run(["dmesg"])).not.toContain("waiting for device in use");
    await vm.run(["rmdir", "/mnt/bdst"]);
    await nothingLeft();
  });

  test("a guest umount that hangs: remove gives up at the deadline and leaves the device in place", async () => {
    const host = hostDir("hang");
    writeFileSync(join(host, "f"), "f\n");
    const m = await add(host, "/mnt/hang", NINEP, "--writable");
    // A umount that never returns (process-edge fault injection): /bin/umount, a link to busybox,
    // becomes a script that sleeps, whichever way the agent runs guest commands (QGA or SSH).
    await vm.run(["sh", "-c", 'printf "#!/bin/sh\\necho \\$\\$ >> /tmp/hang.pids\\nexec sleep 3600\\n" > /tmp/umount.hang && chmod 755 /tmp/umount.hang && mv /tmp/umount.hang /bin/umount']);
    try {
      const t0 = performance.now();
      const r = await hm(["mount", "remove", NAME, "/mnt/hang", "--json"]);
      const took = ms(t0);
      console.error(`[9p] hung guest umount: remove gave up after ${Math.round(took)} ms`);
      expect(took).toBeGreaterThan(14_000);
      expect(took).toBeLessThan(40_000);
      expect(r.code).toBe(11);
      expect(r.json().error.message).toContain("could not unmount /mnt/hang");
      expect(r.json().error.hint).toContain("stays attached");
      // Safe order: the device was not pulled from under the live mount.
      expect((await guest9pDevices()).length).toBe(1);
      expect(await vm.run(["cat", "/mnt/hang/f"])).toBe("f\n");
      const l = (await list()).find((x) => x.id === m.id);
      expect(l?.state).toBe("failed");
      const empty = join(instancePaths(NAME).ninePDir, "empty");
      expect(Array.from({ length: NINEP_SLOTS }, (_, n) => readlinkSync(ninePSlotLink(NAME, n))).filter((t) => t !== empty)).toEqual([host]);
    } finally {
      await vm.run(["sh", "-c", "ln -sf /bin/busybox /bin/umount; for p in $(cat /tmp/hang.pids 2>/dev/null); do kill $p 2>/dev/null; done; rm -f /tmp/hang.pids"]);
      expect(await vm.run(["readlink", "/bin/umount"])).toBe("/bin/busybox\n");
    }
    await hmOk(["mount", "remove", NAME, "/mnt/hang"]);
    await nothingLeft();
  }, 120_000);
});

describe("awkward host paths", () => {
  // Spaces, both quotes, commas, a command substitution, a backslash and non-ASCII, in both the
  // host folder and the guest mount point.
  const WEIRD = `sp ace "dq" 'sq' co,mma $(touch pwned) back\\slash ñé中`;

  test.each(["sshfs", "9p", "virtiofs"])("%s carries it both ways and removes it by its mount point", async (flag) => {
    const host = hostDir(`${flag}-${WEIRD}`);
    writeFileSync(join(host, "from-host"), "hi\n");
    const mp = `/mnt/${flag} ${WEIRD}`;
    const m = (await hmOk(["mount", "add", NAME, host, mp, "--type", flag, "--writable", "--json"])).json();
    expect(m.hostPath).toBe(host);
    expect(m.mountPoint).toBe(mp);
    expect((await list()).find((x) => x.id === m.id)).toMatchObject({ hostPath: host, mountPoint: mp, state: "ready" });
    expect((await ourGuestMounts()).some((x) => x.mountPoint === mp)).toBe(true);
    expect(await vm.run(["cat", `${mp}/from-host`])).toBe("hi\n");
    await vm.run(["sh", "-c", 'echo back > "$1/from-guest"', "sh", mp]);
    expect(readFileSync(join(host, "from-guest"), "utf8")).toBe("back\n");
    expect(readdirSync(host).sort()).toEqual(["from-guest", "from-host"]);
    // Nothing was run from the name, on either side (a shell would have made a file "pwned" in
    // its working folder).
    for (const d of [root, process.cwd(), instancePaths(NAME).dir]) expect(existsSync(join(d, "pwned"))).toBe(false);
    expect((await vm.exec(["sh", "-c", "ls -d /pwned /root/pwned /tmp/pwned /mnt/pwned 2>/dev/null"])).stdout).toBe("");
    await hmOk(["mount", "remove", NAME, mp]);
    expect((await ourGuestMounts()).some((x) => x.mountPoint === mp)).toBe(false);
    expect((await vm.exec(["test", "-e", mp])).code).not.toBe(0);
    expect(ourProcesses().filter((p) => p.argv.includes("virtiofsd") || p.argv.includes("sftp-server"))).toEqual([]);
    expect(await list()).toEqual([]);
  });
});

describe("9p on a VM started with --9p-slots 0", () => {
  const NOP = "tr0";
  let booted = false;
  afterAll(async () => {
    if (booted) await hm(["vm", "stop", NOP]);
  }, 120_000);

  test("a clear error that says why QEMU cannot, and the types that do work there", async () => {
    await hmOk(["vm", "start", NOP, "--memory", "256M", "--cpus", "1", "--slots", "1", "--9p-slots", "0"]);
    booted = true;
    try {
      expect(readdirSync(instancePaths(NOP).ninePDir).filter((n) => n.startsWith("slot"))).toEqual([]);
      const info = await new AgentClient(NOP).info();
      expect(info.transports.find((t) => t.type === "9p")).toMatchObject({ available: false });
      expect(info.transports.find((t) => t.type === "9p")!.reason).toMatch(/without reserved 9p slots/);
      const host = hostDir("noslot");
      writeFileSync(join(host, "f"), "f\n");
      const r = await hm(["mount", "add", NOP, host, "/mnt/n", "--type", "9p", "--json"]);
      expect(r.code).toBe(8);
      const e = r.json().error;
      expect(e.code).toBe("UNSUPPORTED");
      expect(e.message).toContain("QEMU cannot add a 9p backend to a running VM");
      expect(e.hint).toContain("no runtime fsdev_add");
      expect(e.hint).toContain("--type virtiofs or --type reverse-sshfs");
      expect(e.hint).toContain(`hotmount vm start ${NOP} --9p-slots 4`);
      expect((await hmOk(["mount", "list", NOP, "--json"])).json()).toEqual([]);
      // The types the hint names do work on this VM.
      for (const t of ["reverse-sshfs", "virtiofs"]) {
        const ok = (await hmOk(["mount", "add", NOP, host, "/mnt/n", "--type", t, "--json"])).json();
        expect(ok).toMatchObject({ type: t, state: "ready" });
        await hmOk(["mount", "remove", NOP, "/mnt/n"]);
      }
    } finally {
      await hmOk(["vm", "stop", NOP]);
      booted = false;
    }
    expect(ourProcesses().filter((p) => p.argv.includes(`/${NOP}/`))).toEqual([]);
  }, 300_000);
});
