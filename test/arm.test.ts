// An aarch64 demo guest on QEMU's virt machine (TCG on an x86 host), one boot for the file:
// virtiofs, 9p and reverse-sshfs each added writable and read-only, bytes both ways, read-only
// enforced by the host side, a host edit replayed in the guest by the aarch64 watch helper, a
// kill -9 of the agent reconciled, and nothing left after removal. Prints add/remove times
// (docs/arm.md has them beside x86's). HOTMOUNT_ARM_COMPARE_X86=1 also boots an x86_64 guest
// and measures the same adds and removes on it, for the comparison in docs/arm.md.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { channelLines } from "./helpers/channel-lines.ts";
import { readInstanceConfig } from "../src/core/instance-config.ts";
import { instancePaths } from "../src/core/paths.ts";
import { GuestSsh } from "../src/guest-exec/ssh-client.ts";
import { isAlive, readPidFile, waitUntil } from "../src/util/process.ts";
import { hm, hmOk } from "./helpers/cli.ts";
import { ms, sha, transportKit } from "./helpers/transport-kit.ts";
import { type TestVm, useVm } from "./helpers/vm.ts";

// scripts/setup installs qemu-system-arm (scripts/deps/arm.txt); without it the file says so and skips.
const HAVE_QEMU = !!Bun.which("qemu-system-aarch64");
if (!HAVE_QEMU) console.warn("arm: skipped: qemu-system-aarch64 is missing (apt-get install qemu-system-arm; scripts/deps/arm.txt)");

describe.if(HAVE_QEMU)("aarch64 virt guest", () => {
  const NAME = "arm1";
  const NINEP_SLOTS = 2;
  const bootT0 = performance.now();
  let bootSeconds = 0;
  const vm = useVm(NAME, ["--arch", "aarch64", "--slots", "4", "--9p-slots", String(NINEP_SLOTS)]);
  const COMPARE = process.env.HOTMOUNT_ARM_COMPARE_X86 === "1";
  // Made in beforeAll (not at collection), so a skipped file leaves nothing in the temp folder.
  const root = join(tmpdir(), `hmt-arm-${process.pid}`);
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const kit = transportKit(NAME, vm, root, NINEP_SLOTS);
  beforeAll(async () => {
    mkdirSync(root, { recursive: true });
    bootSeconds = ms(bootT0) / 1000;
    await kit.snapshotBase();
  });

  const TYPES = [
    { flag: "virtiofs", type: "virtiofs", fstype: "virtiofs" },
    { flag: "9p", type: "9p", fstype: "9p" },
    { flag: "sshfs", type: "reverse-sshfs", fstype: "fuse.sshfs" },
  ] as const;

  /** Add/remove times in ms, per machine and transport. */
  const times: Record<string, { add: number[]; remove: number[] }> = {};
  const record = (machine: string, flag: string, what: "add" | "remove", t: number) => {
    const k = `${machine} ${flag}`;
    (times[k] ??= { add: [], remove: [] })[what].push(Math.round(t));
  };
  afterAll(() => {
    const rows = Object.entries(times).map(([k, v]) => `  ${k.padEnd(20)} add ${v.add.join(", ").padEnd(14)} ms   remove ${v.remove.join(", ")} ms`);
    console.log(`arm: aarch64 virt boot (vm start, TCG) ${bootSeconds.toFixed(1)} s\n${rows.join("\n")}`);
  });

  async function timedAdd(name: string, machine: string, host: string, mp: string, flag: string, ...more: string[]) {
    const t = performance.now();
    const m = (await hmOk(["mount", "add", name, host, mp, "--type", flag, "--json", ...more])).json();
    record(machine, flag, "add", ms(t));
    return m;
  }
  async function timedRemove(name: string, machine: string, mp: string, flag: string) {
    const t = performance.now();
    await hmOk(["mount", "remove", name, mp]);
    record(machine, flag, "remove", ms(t));
  }

  /** The guest end of the watch helper on a mount: resolves when a line names `path`. */
  async function guestWatcher(ssh: GuestSsh, mp: string) {
    const helper = (await vm.sh("ls /run/hotmount/watch-helper-* | head -1")).trim();
    const w = channelLines(await ssh.channel([helper, "--watch", mp]));
    const seen = (pred: (l: string) => boolean, timeoutMs = 20_000) => waitUntil(() => w.lines.some(pred), timeoutMs, 50);
    if (!(await seen((l) => l === "READY"))) throw new Error("the guest watcher did not start");
    return { lines: w.lines, seen, close: w.close };
  }

  describe("the guest", () => {
    test("is aarch64 on virt, with native PCIe hot-plug (pciehp) on every spare root port", async () => {
      expect((await vm.run(["uname", "-m"])).trim()).toBe("aarch64");
      expect(await vm.run(["cat", "/proc/cmdline"])).toContain("console=ttyAMA0");
      const slots = (await vm.run(["ls", "/sys/bus/pci/slots"])).split(/\s+/).filter(Boolean);
      expect(slots.length).toBe(4);
      expect(readInstanceConfig(NAME).arch).toBe("aarch64");
      const argv = readFileSync(instancePaths(NAME).qemuLog, "utf8").split("\n")[0]!;
      expect(argv).toContain("qemu-system-aarch64");
      expect(argv).toContain("virt,memory-backend=mem");
    });
  });

  describe.each(TYPES)("$flag on aarch64", (k) => {
    test("writable: bytes both ways, a host edit replayed in the guest; remove leaves nothing", async () => {
      const host = kit.hostDir(`rw-${k.flag}`);
      const data = randomBytes(2 << 20);
      writeFileSync(join(host, "from-host.bin"), data);
      const mp = `/mnt/rw-${k.flag}`;
      const m = await timedAdd(NAME, "aarch64", host, mp, k.flag, "--writable");
      expect(m).toMatchObject({ type: k.type, writable: true, state: "ready", watch: true });
      const gm = (await kit.guestMounts()).find((x) => x.mountPoint === mp);
      expect(gm?.fstype).toBe(k.fstype);
      // host → guest
      expect((await vm.run(["sha256sum", `${mp}/from-host.bin`])).split(" ")[0]).toBe(sha(data));
      // guest → host
      await vm.sh(`head -c 1048576 /dev/urandom > /tmp/g.bin && cp /tmp/g.bin ${mp}/from-guest.bin && sync`);
      const guestSha = (await vm.run(["sha256sum", "/tmp/g.bin"])).split(" ")[0];
      expect(sha(readFileSync(join(host, "from-guest.bin")))).toBe(guestSha!);
      // The aarch64 watch helper replays a host create in the guest.
      const ssh = await GuestSsh.connect(readInstanceConfig(NAME).ssh);
      try {
        const w = await guestWatcher(ssh, mp);
        writeFileSync(join(host, "edited"), "e\n");
        expect(await w.seen((l) => l.endsWith(` ${mp}/edited`) || l.endsWith(` ${mp}`))).toBe(true);
        await w.close();
      } finally {
        ssh.close();
      }
      await timedRemove(NAME, "aarch64", mp, k.flag);
      await kit.nothingLeft();
    }, 240_000);

    test("read-only: the guest reads, a guest write fails and the host folder is unchanged", async () => {
      const host = kit.hostDir(`ro-${k.flag}`);
      writeFileSync(join(host, "f"), "ro\n");
      const mp = `/mnt/ro-${k.flag}`;
      const m = await timedAdd(NAME, "aarch64", host, mp, k.flag);
      expect(m).toMatchObject({ type: k.type, writable: false, state: "ready" });
      expect(await vm.run(["cat", `${mp}/f`])).toBe("ro\n");
      // Past the guest's own ro flag: a remount rw by guest root must still not reach the host.
      await vm.exec(["mount", "-o", "remount,rw", mp]);
      const w = await vm.exec(["sh", "-c", `echo x > ${mp}/new; echo y >> ${mp}/f`]);
      expect(w.code).not.toBe(0);
      expect(readFileSync(join(host, "f"), "utf8")).toBe("ro\n");
      expect(() => readFileSync(join(host, "new"))).toThrow();
      await timedRemove(NAME, "aarch64", mp, k.flag);
      await kit.nothingLeft();
    }, 240_000);
  });

  test("agent kill -9 on aarch64: the next agent reconciles, mounts keep working and remove cleanly", async () => {
    const mounts = [];
    for (const k of TYPES) {
      const host = kit.hostDir(`rc-${k.flag}`);
      writeFileSync(join(host, "f"), k.flag);
      mounts.push({ k, host, mp: `/mnt/rc-${k.flag}` });
      await hmOk(["mount", "add", NAME, host, `/mnt/rc-${k.flag}`, "--type", k.flag, "--writable"]);
    }
    const pid = readPidFile(instancePaths(NAME).agentPid)!;
    process.kill(pid, "SIGKILL");
    expect(await waitUntil(() => !isAlive(pid), 5000)).toBe(true);
    // The next command revives the agent, which reconciles from the journal.
    const list = (await hmOk(["mount", "list", NAME, "--json"])).json() as { mountPoint: string; state: string }[];
    expect(list.map((m) => `${m.mountPoint}:${m.state}`).sort()).toEqual(mounts.map((m) => `${m.mp}:ready`).sort());
    expect(readPidFile(instancePaths(NAME).agentPid)).not.toBe(pid);
    for (const m of mounts) {
      expect(await vm.run(["cat", `${m.mp}/f`])).toBe(m.k.flag);
      await vm.sh(`echo after > ${m.mp}/after`);
      expect(readFileSync(join(m.host, "after"), "utf8")).toBe("after\n");
    }
    for (const m of mounts) await hmOk(["mount", "remove", NAME, m.mp]);
    await kit.nothingLeft();
  }, 240_000);

  // The same adds and removes on an x86_64 q35 guest, in the same run, for docs/arm.md.
  describe.if(COMPARE)("x86_64 q35, for comparison", () => {
    const X = "arm1x";
    const xvm: TestVm | null = COMPARE ? useVm(X, ["--arch", "x86_64", "--slots", "4", "--9p-slots", String(NINEP_SLOTS)]) : null;
    test.each(TYPES)(
      "$flag: add and remove, writable and read-only",
      async (k) => {
        for (const writable of [true, false]) {
          const host = kit.hostDir(`x-${k.flag}-${writable}`);
          writeFileSync(join(host, "f"), "x\n");
          const mp = `/mnt/x-${k.flag}`;
          await timedAdd(X, "x86_64", host, mp, k.flag, ...(writable ? ["--writable"] : []));
          expect(await xvm!.run(["cat", `${mp}/f`])).toBe("x\n");
          await timedRemove(X, "x86_64", mp, k.flag);
        }
        expect((await hm(["mount", "list", X, "--json"])).json()).toEqual([]);
      },
      240_000,
    );
  });
});
