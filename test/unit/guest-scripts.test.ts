// The one-command guest scripts of add and remove (guest-mount.ts, guest-unmount.ts), run by a
// real `sh` on this host instead of in a guest: the mount retried while its device is not there
// yet, a mount point that cannot be made, and as root a real tmpfs unmounted (with the mount
// point we made taken away), or found busy, which must leave it mounted for the step-by-step way;
// and a script that times out, which fails the remove at its deadline without a second try.
// Only the carrier is a stand-in: argv goes to a local process as QGA's guest-exec would run it.
import { afterAll, expect, test } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import type { MountRecord } from "../../src/agent/journal.ts";
import { mountWithRetry } from "../../src/agent/guest-mount.ts";
import { UMOUNT_DEADLINE_MS, unmountForRemove } from "../../src/agent/guest-unmount.ts";
import { HotmountError } from "../../src/core/errors.ts";
import type { GuestCommands } from "../../src/guest-exec/index.ts";

const root = mkdtempSync(join(tmpdir(), "hm-unit-gs-"));
afterAll(() => {
  spawnSync("sh", ["-c", `grep -o " ${root}[^ ]*" /proc/mounts | xargs -r -n1 umount -l`]);
  rmSync(root, { recursive: true, force: true });
});

/** Every argv run, in order; each runs as a local process. */
const ran: string[][] = [];
const local: GuestCommands = {
  async exec(argv) {
    ran.push([...argv]);
    const r = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8" });
    return { code: r.status ?? 255, stdout: r.stdout, stderr: r.stderr };
  },
  async run(argv) {
    const r = await this.exec(argv);
    if (r.code !== 0) throw new Error(r.stderr);
    return r.stdout;
  },
};

test("mount: retried in one command until the device is there, making the mount point first", async () => {
  const flag = join(root, "device");
  const mp = join(root, "a", "b");
  // The "device" appears 400 ms in (another process: the carrier blocks this one): one command
  // must outlast it by retrying inside.
  spawn("sh", ["-c", `sleep 0.4; : > ${flag}`], { stdio: "ignore" });
  ran.length = 0;
  const t = performance.now();
  await mountWithRetry(local, ["sh", "-c", `[ -e ${flag} ] || { echo "no such device" >&2; exit 32; }`], mp, { mkdir: true });
  expect(performance.now() - t).toBeGreaterThanOrEqual(350);
  expect(ran).toHaveLength(1);
  expect(existsSync(mp)).toBe(true);
});

test("mount: a mount point that cannot be made fails at once, saying so", async () => {
  ran.length = 0;
  await expect(mountWithRetry(local, ["true"], "/proc/hotmount-no/x", { mkdir: true })).rejects.toThrow(/could not create the folder \/proc\/hotmount-no\/x/);
  expect(ran).toHaveLength(1);
});

const asRoot = process.getuid?.() === 0 && spawnSync("mount", ["-t", "tmpfs", "-o", "size=1m", "hmprobe", root]).status === 0;
if (asRoot) spawnSync("umount", [root]);
const rootTest = asRoot ? test : test.skip;

function rec(mountPoint: string): MountRecord {
  return {
    id: "hmunit0001",
    instance: "unit",
    hostPath: root,
    mountPoint,
    type: "virtiofs",
    writable: true,
    persist: false,
    watch: false,
    state: "removing",
    createdAt: new Date().toISOString(),
    createdDir: true,
    tag: "hmunit0001",
  };
}
const mounted = (mp: string) => spawnSync("sh", ["-c", `grep -q " ${mp} " /proc/mounts`]).status === 0;

rootTest("remove: one command syncs, unmounts and takes away the mount point it made", async () => {
  const mp = join(root, "m1");
  mkdirSync(mp);
  expect(spawnSync("mount", ["-t", "tmpfs", "-o", "size=1m", "hmunit0001", mp]).status).toBe(0);
  ran.length = 0;
  expect(await unmountForRemove(local, rec(mp), false, { rmdir: true })).toBe(true);
  expect(ran).toHaveLength(1);
  expect(ran[0]![3]).toBe("hotmount-umount");
  expect(mounted(mp)).toBe(false);
  expect(existsSync(mp)).toBe(false);
});

rootTest("remove: a busy mount is left mounted, and the step-by-step way names the holder", async () => {
  const mp = join(root, "m2");
  mkdirSync(mp);
  expect(spawnSync("mount", ["-t", "tmpfs", "-o", "size=1m", "hmunit0001", mp]).status).toBe(0);
  const holder = spawn("sleep", ["30"], { cwd: mp, stdio: "ignore" });
  await Bun.sleep(100);
  ran.length = 0;
  try {
    const e = await unmountForRemove(local, rec(mp), false, { rmdir: true }).catch((x) => x);
    expect(e).toMatchObject({ code: "MOUNT_BUSY" });
    expect(e.message).toContain("sleep");
    expect(mounted(mp)).toBe(true);
    expect(existsSync(mp)).toBe(true);
    // The script first, then the step-by-step way (mount table, sync, umount, fuser, …).
    expect(ran[0]![3]).toBe("hotmount-umount");
    expect(ran.length).toBeGreaterThan(1);
  } finally {
    holder.kill("SIGKILL");
    await Bun.sleep(100);
    spawnSync("umount", [mp]);
  }
});

test("remove: a script that times out (a hung umount) fails the remove at that deadline, without a second try", async () => {
  const argvs: string[][] = [];
  const hung: GuestCommands = {
    async exec(argv, opts) {
      argvs.push([...argv]);
      throw new HotmountError("TIMEOUT", `guest command timed out after ${opts?.timeoutMs} ms: ${argv[0]}`);
    },
    async run() {
      return "";
    },
  };
  const e = await unmountForRemove(hung, rec("/mnt/hung"), false, { rmdir: true }).catch((x) => x);
  expect(e).toMatchObject({ code: "GUEST_COMMAND_FAILED", hint: expect.stringContaining("stays attached") });
  expect(e.message).toContain("could not unmount /mnt/hung");
  // The sync's deadline and the unmount's, back to back; then no step-by-step retry of a hung umount.
  expect(e.message).toContain(`after ${2 * UMOUNT_DEADLINE_MS} ms`);
  expect(argvs).toHaveLength(1);
});
