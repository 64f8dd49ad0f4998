// reverse-sshfs and 9p when things go wrong: a killed sftp-server, an SSH drop, a stuck sshfs,
// no sshfs in the guest, the 9p removal order, and awkward host paths for every type.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findSftpServer } from "../../src/agent/transports/reverse-sshfs.ts";
import { AgentClient } from "../../src/client/agent-client.ts";
import { instancePaths, ninePSlotLink } from "../../src/core/paths.ts";
import { hm, hmOk } from "../helpers/cli.ts";
import { ourProcesses } from "../helpers/leaks.ts";
import { ms, NINEP, SSHFS, transportKit } from "../helpers/transport-kit.ts";
import { useVm } from "../helpers/vm.ts";

const NAME = "trf";
const NINEP_SLOTS = 4;
const vm = useVm(NAME, ["--slots", "6", "--9p-slots", String(NINEP_SLOTS)]);
const root = mkdtempSync(`${tmpdir()}/hmt-trf-`);
afterAll(() => rmSync(root, { recursive: true, force: true }));
const { hostDir, add, list, waitFor, ourGuestMounts, guestSshfsPids, sftpServers, guest9pDevices, nothingLeft, snapshotBase } = transportKit(
  NAME,
  vm,
  root,
  NINEP_SLOTS,
);
beforeAll(() => snapshotBase());

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
    for (const end = Date.now() + 1500; Date.now() < end;) expect((await list()).find((x) => x.id === m.id)?.state).toBe("failed");
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
  test.each([
    ["sshfs running", false],
    ["sshfs stopped", true],
  ])("an SSH drop under a live mount (%s): marked failed, then re-established by itself", async (_what, stopped) => {
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
    const back = await waitFor(
      "re-established",
      async () => {
        const x = (await list()).find((y) => y.id === m.id);
        const pids = await guestSshfsPids();
        return x?.state === "ready" && pids.length === 1 && pids[0] !== pid && x;
      },
      30_000,
      200,
    );
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
    await vm.run([
      "sh",
      "-c",
      'printf "#!/bin/sh\\necho \\$\\$ >> /tmp/hang.pids\\nexec sleep 3600\\n" > /tmp/umount.hang && chmod 755 /tmp/umount.hang && mv /tmp/umount.hang /bin/umount',
    ]);
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
      await vm.run([
        "sh",
        "-c",
        "ln -sf /bin/busybox /bin/umount; for p in $(cat /tmp/hang.pids 2>/dev/null); do kill $p 2>/dev/null; done; rm -f /tmp/hang.pids",
      ]);
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
