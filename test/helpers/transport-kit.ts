// Shared by the transport test files: one VM's worth of helpers for 9p and reverse-sshfs checks.
import { expect } from "bun:test";
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { AgentClient } from "../../src/client/agent-client.ts";
import { instancePaths, ninePSlotLink } from "../../src/core/paths.ts";
import { hmOk } from "./cli.ts";
import { ourProcesses } from "./leaks.ts";
import type { TestVm } from "./vm.ts";

export interface Kind {
  /** What the user types after --type (sshfs is the alias of reverse-sshfs). */
  flag: string;
  type: "reverse-sshfs" | "9p";
  fstype: string;
}
export const SSHFS: Kind = { flag: "sshfs", type: "reverse-sshfs", fstype: "fuse.sshfs" };
export const NINEP: Kind = { flag: "9p", type: "9p", fstype: "9p" };
export const KINDS = [SSHFS, NINEP];

export const sha = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");
export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
export const ms = (t0: number) => performance.now() - t0;

export function transportKit(NAME: string, vm: TestVm, root: string, NINEP_SLOTS: number) {
  const hostDir = (...parts: string[]) => {
    const d = join(root, ...parts);
    mkdirSync(d, { recursive: true });
    return d;
  };
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
  async function guestProcesses(): Promise<{ pid: number; ppid: number; comm: string }[]> {
    return (await vm.run(["ps", "-o", "pid,ppid,comm"]))
      .split("\n")
      .slice(1)
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f.length >= 3 && f[0] !== "2" && f[1] !== "2")
      .map((f) => ({ pid: Number(f[0]), ppid: Number(f[1]), comm: f[2]! }));
  }
  let baseComms = new Set<string>();
  /**
   * Guest processes that were not there before this file's first test (ps and its shell aside) and
   * are still there 5 s later: the agent's own guest commands (its 3-second health check's `cat`)
   * come and go, a leaked process stays. Each is "pid comm, parent pid comm, State: …".
   */
  async function guestStrays(): Promise<string[]> {
    const sample = async () => (await guestProcesses()).filter((p) => !baseComms.has(p.comm) && p.comm !== "ps" && p.comm !== "sh");
    let strays = await sample();
    for (let i = 0; i < 10 && strays.length > 0; i++) {
      await Bun.sleep(500);
      const now = new Map((await sample()).map((p) => [p.pid, p]));
      strays = strays.filter((p) => now.get(p.pid)?.comm === p.comm);
    }
    if (strays.length === 0) return [];
    const all = new Map((await guestProcesses()).map((p) => [p.pid, p.comm]));
    const states = await vm.exec(["sh", "-c", 'for p; do grep -h "^State" "/proc/$p/status" || echo gone; done', "sh", ...strays.map((p) => String(p.pid))]);
    const state = states.stdout.split("\n");
    return strays.map((p, i) => `${p.pid} ${p.comm}, parent ${p.ppid} ${all.get(p.ppid) ?? "?"}, ${state[i]?.replace(/\s+/g, " ") ?? "?"}`);
  }
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

  /** Call once the VM is up: what runs in the guest before any test is not a stray. */
  async function snapshotBase() {
    baseComms = new Set((await guestProcesses()).map((p) => p.comm));
    expect(baseComms.has("sshfs")).toBe(false);
  }

  return {
    hostDir,
    add,
    list,
    waitFor,
    guestMounts,
    ourGuestMounts,
    guestSshfsPids,
    guestDropbears,
    guestProcesses,
    guestStrays,
    sftpServers,
    guest9pDevices,
    hostShas,
    guestShas,
    nothingLeft,
    snapshotBase,
  };
}
