// The libvirt driver against real libvirt (libvirtd 9 + QEMU under TCG): two domains defined by
// hand with `virsh define` from XML hotmount never wrote, one hot-plug ready (memfd shared
// memory, 8 spare root ports, the guest-agent channel) and one without shared memory. hotmount
// finds them, registers one on the first `mount add`, and hot-plugs virtiofs through libvirt.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseDomain } from "../../drivers/libvirt/domain-xml.ts";
import { markedVirtiofsd } from "../../drivers/libvirt/virtiofsd-wrapper.ts";
import { instancePaths, sshKeyPath } from "../../src/core/paths.ts";
import { isAlive, readPidFile, waitUntil } from "../../src/util/process.ts";
import { SYSTEM_URI, virshOk } from "../../src/util/virsh.ts";
import { hm, hmOk } from "../helpers/cli.ts";
import {
  guestMountsUnder,
  imagesDirReady,
  libvirtDown,
  libvirtUp,
  nothingLeft,
  ours,
  ourProcesses,
  procText,
  startDemoDomain,
  type TestDomain,
} from "../helpers/libvirt.ts";

const CYCLES = Number(process.env.HOTMOUNT_LIBVIRT_CYCLES ?? 30);
const up = libvirtUp();
if (up.problem) console.warn(`test/vm/libvirt.test.ts skipped: ${up.problem}`);
const d = up.problem ? describe.skip : describe;

const root = mkdtempSync("/tmp/hmt-lv-");
const share = join(root, "share");
mkdirSync(share);
writeFileSync(join(share, "from-host.txt"), "bytes from the host\n");

let main: TestDomain;
let noshm: TestDomain;

beforeAll(async () => {
  if (up.problem) return;
  imagesDirReady();
  const [a, b] = await Promise.allSettled([
    startDemoDomain({ name: "hmtest-main", sharedMemory: true, sparePorts: 8 }),
    startDemoDomain({ name: "hmtest-noshm", sharedMemory: false, sparePorts: 2 }),
  ]);
  if (a.status === "fulfilled") main = a.value;
  if (b.status === "fulfilled") noshm = b.value;
  if (a.status === "rejected") throw a.reason;
  if (b.status === "rejected") throw b.reason;
}, 600_000);

afterAll(async () => {
  if (up.problem) return;
  for (const n of ["hmtest-main", "hmtest-noshm"]) {
    const pid = readPidFile(instancePaths(n).agentPid);
    if (pid && isAlive(pid)) process.kill(pid, "SIGTERM");
    if (pid) await waitUntil(() => !isAlive(pid), 10_000);
  }
  await main?.destroy();
  await noshm?.destroy();
  libvirtDown();
  rmSync(root, { recursive: true, force: true });
}, 120_000);

d("libvirt domains", () => {
  test("vm list finds both domains, with what each can take and why not", async () => {
    const list = (await hmOk(["vm", "list", "--json"])).json() as any[];
    const m = list.find((i) => i.name === "hmtest-main");
    const n = list.find((i) => i.name === "hmtest-noshm");
    expect(m).toMatchObject({ driver: "libvirt", state: "running", accel: "tcg", slots: { total: 8, used: 0 } });
    expect(m.ssh).toMatchObject({ host: "127.0.0.1", port: main.sshPort });
    expect(m.transports.find((t: any) => t.type === "virtiofs")).toEqual({ type: "virtiofs", available: true });
    expect(m.transports.find((t: any) => t.type === "9p")).toMatchObject({ available: false, reason: expect.stringContaining("cannot hot-plug 9p") });
    expect(n.transports.find((t: any) => t.type === "virtiofs")).toMatchObject({ available: false, reason: expect.stringContaining("not shared memory") });
    expect(m.pid).toBeGreaterThan(0);
    // Listing starts nothing: no agent, no instance registered.
    expect(existsSync(instancePaths("hmtest-main").config)).toBe(false);
    const table = (await hmOk(["vm", "list"])).stdout;
    expect(table).toMatch(/hmtest-main\s+libvirt\s+running/);
  }, 900_000);

  test("virtiofs add/remove: bytes both ways; remove unmounts, detaches and waits", async () => {
    const add = (await hmOk(["mount", "add", "hmtest-main", share, "/mnt/rw", "--writable", "--json"])).json();
    expect(add).toMatchObject({ type: "virtiofs", state: "ready", writable: true });
    expect(add.slot).toMatch(/^pci\.\d+$/);
    expect(JSON.parse(readFileSync(instancePaths("hmtest-main").config, "utf8"))).toMatchObject({ driver: "libvirt", external: "libvirt" });
    expect((await ours(main)).map((f) => f.alias)).toEqual([`ua-${add.id}`]);
    expect(await main.run(["cat", "/mnt/rw/from-host.txt"])).toBe("bytes from the host\n");
    await main.run(["sh", "-c", "echo bytes from the guest > /mnt/rw/from-guest.txt"]);
    expect(readFileSync(join(share, "from-guest.txt"), "utf8")).toBe("bytes from the guest\n");
    const info = (await hmOk(["vm", "list", "--json"])).json().find((i: any) => i.name === "hmtest-main");
    expect(info).toMatchObject({ slots: { total: 8, used: 1 }, mounts: 1 });
    await hmOk(["mount", "remove", "hmtest-main", "/mnt/rw"]);
    await nothingLeft(main);
    rmSync(join(share, "from-guest.txt"));
  }, 900_000);

  test("read-only holds as guest root (host-enforced), and no share makes device nodes", async () => {
    await hmOk(["mount", "add", "hmtest-main", share, "/mnt/ro", "--json"]);
    expect(await main.run(["cat", "/mnt/ro/from-host.txt"])).toBe("bytes from the host\n");
    // Guest root remounting read-write does not help: the host refuses the write.
    await main.exec(["mount", "-o", "remount,rw", "/mnt/ro"]);
    const w = await main.exec(["sh", "-c", "echo x > /mnt/ro/new.txt"]);
    expect(w.code).not.toBe(0);
    expect(w.stderr).toMatch(/Read-only/i);
    expect(existsSync(join(share, "new.txt"))).toBe(false);
    expect((await main.exec(["rm", "/mnt/ro/from-host.txt"])).code).not.toBe(0);
    expect(existsSync(join(share, "from-host.txt"))).toBe(true);
    await hmOk(["mount", "remove", "hmtest-main", "/mnt/ro"]);

    await hmOk(["mount", "add", "hmtest-main", share, "/mnt/rw", "--writable"]);
    const mk = await main.exec(["mknod", "/mnt/rw/null2", "c", "1", "3"]);
    expect(mk.code).not.toBe(0);
    expect(existsSync(join(share, "null2"))).toBe(false);
    await hmOk(["mount", "remove", "hmtest-main", "/mnt/rw"]);
    await nothingLeft(main);
  }, 900_000);

  test("9p is refused with why and what works", async () => {
    const r = await hm(["mount", "add", "hmtest-main", share, "/mnt/9p", "--type", "9p", "--json"]);
    expect(r.code).toBe(8);
    expect(r.json().error.message).toContain("libvirt cannot hot-plug 9p");
    expect(r.json().error.hint).toMatch(/virtiofs.*reverse-sshfs/);
    await nothingLeft(main);
  }, 900_000);

  test("rollback: a missing host folder, a domain without shared memory", async () => {
    const miss = await hm(["mount", "add", "hmtest-main", join(root, "nope"), "/mnt/x", "--json"]);
    expect(miss.code).toBe(2);
    await nothingLeft(main);
    expect((await main.exec(["test", "-e", "/mnt/x"])).code).not.toBe(0);

    const r = await hm(["mount", "add", "hmtest-noshm", share, "/mnt/x", "--json"]);
    expect(r.code).toBe(8);
    expect(r.json().error).toMatchObject({ code: "UNSUPPORTED", message: expect.stringContaining("not shared memory") });
    expect(r.json().error.hint).toContain("libvirt prepare");
    await nothingLeft(noshm);
    expect((await noshm.exec(["test", "-e", "/mnt/x"])).code).not.toBe(0);
  }, 900_000);

  test("rollback: the guest refuses the mount point or the mount itself; nothing is left", async () => {
    // Refused before anything is attached: a path under /proc, a file as mount point.
    await main.run(["sh", "-c", "echo a file > /tmp/hm-file"]);
    for (const mp of ["/proc/hm-x", "/tmp/hm-file"]) {
      const r = await hm(["mount", "add", "hmtest-main", share, mp, "--json"]);
      expect(r.code).not.toBe(0);
      const err = r.json().error;
      expect(err.message).toContain(mp);
      expect(err.hint ?? "").not.toBe("");
      await nothingLeft(main);
    }
    expect(await main.run(["cat", "/tmp/hm-file"])).toBe("a file\n");
    expect((await main.exec(["test", "-e", "/proc/hm-x"])).code).not.toBe(0);
    await main.exec(["rm", "-f", "/tmp/hm-file"]);

    // The guest's mount(8) fails after libvirt attached the device: the guest may hold no more
    // mounts (fs.mount-max). The device is detached again, its virtiofsd ends, the folder we made goes.
    const max = (await main.run(["cat", "/proc/sys/fs/mount-max"])).trim();
    const count = (await main.run(["cat", "/proc/mounts"])).trim().split("\n").length;
    await main.run(["sh", "-c", `echo ${count} > /proc/sys/fs/mount-max`]);
    try {
      const r = await hm(["mount", "add", "hmtest-main", share, "/mnt/full", "--json"]);
      expect(r.code).toBe(11);
      expect(r.json().error).toMatchObject({ code: "GUEST_COMMAND_FAILED", message: expect.stringContaining("could not mount /mnt/full") });
      expect(r.json().error.message).toMatch(/No space left/i);
    } finally {
      await main.run(["sh", "-c", `echo ${max} > /proc/sys/fs/mount-max`]);
    }
    await nothingLeft(main);
    expect((await main.exec(["test", "-e", "/mnt/full"])).code).not.toBe(0);
    const list = await hm(["mount", "list", "hmtest-main", "--json"]);
    expect(list.code).toBe(0);
    expect(list.json()).toEqual([]);
  }, 900_000);

  test("reverse-sshfs over the domain's SSH, with the login `libvirt ssh` saved: bytes both ways, remove leaves nothing", async () => {
    const key = join(root, "guest-key");
    copyFileSync(sshKeyPath(), key);
    chmodSync(key, 0o600);
    expect((await hmOk(["libvirt", "ssh", "hmtest-main", "--user", "root", "--identity", key, "--json"])).json()).toMatchObject({
      user: "root",
      identityFile: key,
      from: { user: "flags", identityFile: "flags" },
    });
    // A running agent keeps its session: detach it, and the next add attaches with the saved login.
    await hm(["vm", "stop", "hmtest-main"]);
    const listed = (await hmOk(["vm", "list", "--json"])).json().find((i: any) => i.name === "hmtest-main");
    expect(listed.ssh).toMatchObject({ user: "root", identityFile: key, port: main.sshPort });
    const add = (await hmOk(["mount", "add", "hmtest-main", share, "/mnt/sshfs", "--type", "reverse-sshfs", "--writable", "--json"])).json();
    expect(add).toMatchObject({ type: "reverse-sshfs", state: "ready" });
    expect(JSON.parse(readFileSync(instancePaths("hmtest-main").config, "utf8")).ssh).toMatchObject({ user: "root", identityFile: key });
    expect(await ours(main)).toEqual([]);
    expect(await main.run(["cat", "/mnt/sshfs/from-host.txt"])).toBe("bytes from the host\n");
    await main.run(["sh", "-c", "echo over sshfs > /mnt/sshfs/from-sshfs.txt"]);
    expect(readFileSync(join(share, "from-sshfs.txt"), "utf8")).toBe("over sshfs\n");
    await hmOk(["mount", "remove", "hmtest-main", add.id]);
    await nothingLeft(main);
    rmSync(join(share, "from-sshfs.txt"));
    expect((await hmOk(["libvirt", "ssh", "hmtest-main", "--clear", "--json"])).json().from).toEqual({ user: "default", identityFile: "default" });
  }, 900_000);

  test("8 mounts on 8 spare root ports; the 9th is refused and leaves nothing", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) ids.push((await hmOk(["mount", "add", "hmtest-main", share, `/mnt/m${i}`, "--json"])).json().id);
    expect((await ours(main)).length).toBe(8);
    expect((await guestMountsUnder(main, "/mnt/m")).length).toBe(8);
    const r = await hm(["mount", "add", "hmtest-main", share, "/mnt/m8", "--json"]);
    expect(r.code).toBe(7);
    expect(r.json().error.code).toBe("NO_FREE_SLOT");
    expect((await main.exec(["test", "-e", "/mnt/m8"])).code).not.toBe(0);
    expect((await ours(main)).length).toBe(8);
    for (const id of ids) await hmOk(["mount", "remove", "hmtest-main", id]);
    await nothingLeft(main);
  }, 900_000);

  test("kill -9 of the agent mid-add, then reconcile removes the half-made mount", async () => {
    const pid = readPidFile(instancePaths("hmtest-main").agentPid)!;
    process.kill(pid, "SIGKILL");
    await waitUntil(() => !isAlive(pid), 5000);
    // A dead agent is restarted by `vm start`; this one with a failpoint: it dies (SIGKILL) right after the device is attached.
    await hmOk(["vm", "start", "hmtest-main"], { env: { HOTMOUNT_FAILPOINT: "add:attached" } });
    const r = await hm(["mount", "add", "hmtest-main", share, "/mnt/crash", "--json"]);
    expect(r.code).not.toBe(0);
    expect((await ours(main)).length).toBe(1);
    // A new agent reconciles from the journal and libvirt's live XML: the device goes, virtiofsd with it.
    await hmOk(["vm", "start", "hmtest-main"]);
    await nothingLeft(main);
    expect((await hmOk(["mount", "list", "hmtest-main", "--json"])).json()).toEqual([]);

    // A ready mount survives a kill -9 of the agent: the next agent confirms it.
    await hmOk(["mount", "add", "hmtest-main", share, "/mnt/keep"]);
    const pid2 = readPidFile(instancePaths("hmtest-main").agentPid)!;
    process.kill(pid2, "SIGKILL");
    await waitUntil(() => !isAlive(pid2), 5000);
    await hmOk(["vm", "start", "hmtest-main"]);
    const list = (await hmOk(["mount", "list", "hmtest-main", "--json"])).json();
    expect(list).toMatchObject([{ mountPoint: "/mnt/keep", state: "ready" }]);
    expect(await main.run(["cat", "/mnt/keep/from-host.txt"])).toBe("bytes from the host\n");
    await hmOk(["mount", "remove", "hmtest-main", "/mnt/keep"]);
    await nothingLeft(main);
  }, 900_000);

  test("libvirt prepare: shows the diff, edits only the named domain, refuses a running one without --next-boot", async () => {
    const { SYSTEM_URI, virsh, virshOk } = await import("../../src/util/virsh.ts");
    // A shut-off domain defined by hand: the no-shared-memory domain's XML under another name and UUID.
    const src = (await virshOk(SYSTEM_URI, ["dumpxml", "--inactive", "hmtest-noshm"]))
      .replace(/<name>[^<]*<\/name>/, "<name>hmtest-prep</name>")
      .replace(/<uuid>[^<]*<\/uuid>\n?/, "");
    const f = join(root, "prep.xml");
    writeFileSync(f, src);
    await virshOk(SYSTEM_URI, ["define", f]);
    try {
      const mainBefore = await virshOk(SYSTEM_URI, ["dumpxml", "--inactive", "hmtest-main"]);
      const dry = await hmOk(["libvirt", "prepare", "hmtest-prep", "--slots", "8", "--dry-run"]);
      expect(dry.stdout).toContain("+    <access mode='shared'/>");
      expect(dry.stdout).toContain("+    <controller type='pci' model='pcie-root-port'/>");
      expect(parseDomain(await virshOk(SYSTEM_URI, ["dumpxml", "--inactive", "hmtest-prep"])).sharedMemory).toBe(false);
      const r = (await hmOk(["libvirt", "prepare", "hmtest-prep", "--slots", "8", "--json"])).json();
      expect(r).toMatchObject({ applied: true, nextBoot: false });
      const v = parseDomain(await virshOk(SYSTEM_URI, ["dumpxml", "--inactive", "hmtest-prep"]));
      expect(v).toMatchObject({ sharedMemory: true });
      expect(v.freeRootPorts.length).toBeGreaterThanOrEqual(8);
      expect((await hmOk(["libvirt", "prepare", "hmtest-prep", "--slots", "8", "--json"])).json().changes).toEqual([]);
      // Running: refused unless --next-boot, and then only the persistent XML changes.
      const refused = await hm(["libvirt", "prepare", "hmtest-noshm", "--json"]);
      expect(refused.code).toBe(5);
      expect(refused.json().error.hint).toContain("--next-boot");
      expect(parseDomain(await virshOk(SYSTEM_URI, ["dumpxml", "--inactive", "hmtest-noshm"])).sharedMemory).toBe(false);
      await hmOk(["libvirt", "prepare", "hmtest-noshm", "--next-boot"]);
      expect(parseDomain(await virshOk(SYSTEM_URI, ["dumpxml", "--inactive", "hmtest-noshm"])).sharedMemory).toBe(true);
      expect(parseDomain(await noshm.liveXml()).sharedMemory).toBe(false);
      expect(await virshOk(SYSTEM_URI, ["dumpxml", "--inactive", "hmtest-main"])).toBe(mainBefore);
    } finally {
      await virsh(SYSTEM_URI, ["undefine", "hmtest-prep"]);
    }
  }, 300_000);

  test(`${CYCLES} add/remove cycles leave no virtiofsd, no <filesystem>, no guest mount`, async () => {
    for (let i = 0; i < CYCLES; i++) {
      const m = (await hmOk(["mount", "add", "hmtest-main", share, "/mnt/cycle", "--json"])).json();
      expect(m.state).toBe("ready");
      await hmOk(["mount", "remove", "hmtest-main", m.id]);
    }
    await nothingLeft(main);
  }, 1_800_000);
  test("the guest reboots in place while mounted (same QEMU process, libvirt's on_reboot=restart): the mount comes back by itself", async () => {
    const m = (await hmOk(["mount", "add", "hmtest-main", share, "/mnt/rb", "--writable", "--json"])).json();
    await main.run(["sh", "-c", "echo before > /mnt/rb/rb-before.txt"]);
    const qemu = (await virshOk(SYSTEM_URI, ["domid", "hmtest-main"])).trim();
    const t0 = Date.now();
    await main.exec(["sh", "-c", "(sleep 1; reboot -f) >/dev/null 2>&1 &"]).catch(() => {});
    expect(readFileSync(join(share, "rb-before.txt"), "utf8")).toBe("before\n");
    const restored = () =>
      readFileSync(instancePaths("hmtest-main").events, "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l))
        .some((e) => e.type === "mount-restored" && e.mountId === m.id);
    expect(await waitUntil(restored, 420_000, 1000)).toBe(true);
    console.log(`libvirt reboot in place: the mount was back ${((Date.now() - t0) / 1000).toFixed(1)} s after the reboot command`);
    // The same domain id: libvirt reset the guest in the same QEMU process.
    expect((await virshOk(SYSTEM_URI, ["domid", "hmtest-main"])).trim()).toBe(qemu);
    expect(await main.run(["cat", "/mnt/rb/from-host.txt"])).toBe("bytes from the host\n");
    expect((await hmOk(["mount", "list", "hmtest-main", "--json"])).json()).toMatchObject([{ id: m.id, state: "ready" }]);
    await hmOk(["mount", "remove", "hmtest-main", m.id]);
    rmSync(join(share, "rb-before.txt"), { force: true });
    await nothingLeft(main);
  }, 600_000);

  test("virsh destroy while mounted: nothing of ours keeps running, the records say why, and a restarted domain mounts again", async () => {
    const uuid = parseDomain(await main.liveXml()).uuid;
    const vfs = (await hmOk(["mount", "add", "hmtest-main", share, "/mnt/d1", "--writable", "--json"])).json();
    await hmOk(["mount", "add", "hmtest-main", share, "/mnt/d2", "--type", "reverse-sshfs", "--json"]);
    await hmOk(["mount", "add", "hmtest-main", share, "/mnt/d3", "--persist", "--json"]);
    expect(new Set(markedVirtiofsd(uuid).map((v) => v.id)).size).toBe(2);
    const agent = readPidFile(instancePaths("hmtest-main").agentPid)!;
    const noshmAgent = readPidFile(instancePaths("hmtest-noshm").agentPid) ?? -1;
    await virshOk(SYSTEM_URI, ["destroy", "hmtest-main"]);
    expect(await waitUntil(() => !isAlive(agent), 30_000)).toBe(true);
    // No agent, virtiofsd (or its wrapper), sftp-server or SSH channel of this domain is left.
    await waitUntil(() => ourProcesses([noshmAgent]).length === 0, 10_000);
    expect(ourProcesses([noshmAgent]).map((p) => `${p} ${procText(p, "cmdline").replaceAll("\0", " ")}`)).toEqual([]);
    expect(markedVirtiofsd(uuid)).toEqual([]);
    // Its wrapper script is gone too (on failure, the agent's last words say why).
    const lastWords = () => readFileSync(instancePaths("hmtest-main").agentLog, "utf8").trimEnd().split("\n").slice(-12).join("\n");
    expect(existsSync(join(instancePaths("hmtest-main").virtiofsdDir, `${vfs.id}.sh`)) ? lastWords() : "").toBe("");
    // The journal keeps only the persistent mount, failed with why; the events say what happened.
    const journal = JSON.parse(readFileSync(instancePaths("hmtest-main").journal, "utf8")).mounts;
    expect(journal).toMatchObject([{ mountPoint: "/mnt/d3", state: "failed", error: { message: expect.stringContaining("VM stopped") } }]);
    const events = readFileSync(instancePaths("hmtest-main").events, "utf8");
    expect(events).toContain(`"mountId":"${vfs.id}"`);
    expect(events).toMatch(/"type":"mount-failed"[^\n]*the VM stopped while mounted/);
    const vm = (await hmOk(["vm", "list", "--json"])).json().find((i: any) => i.name === "hmtest-main");
    expect(vm).toMatchObject({ state: "stopped", mounts: 0 });
    expect((await hmOk(["mount", "list", "--json"])).json().filter((m: any) => m.instance === "hmtest-main")).toEqual([]);

    // Started again by libvirt: the persistent mount comes back with the agent, and new mounts work.
    await virshOk(SYSTEM_URI, ["start", "hmtest-main"]);
    expect(await waitUntil(async () => (await main.qga.probe(3000)) === null, 420_000, 1000)).toBe(true);
    await hmOk(["mount", "add", "hmtest-main", share, "/mnt/d1", "--writable"]);
    expect(await main.run(["cat", "/mnt/d1/from-host.txt"])).toBe("bytes from the host\n");
    const listed = async () =>
      (await hmOk(["mount", "list", "hmtest-main", "--json"]))
        .json()
        .map((m: any) => `${m.mountPoint} ${m.state}`)
        .sort()
        .join(", ");
    await waitUntil(async () => (await listed()) === "/mnt/d1 ready, /mnt/d3 ready", 120_000, 1000);
    expect(await listed()).toBe("/mnt/d1 ready, /mnt/d3 ready");
    await hmOk(["mount", "remove", "hmtest-main", "/mnt/d1"]);
    await hmOk(["mount", "remove", "hmtest-main", "/mnt/d3"]);
    await nothingLeft(main);
  }, 900_000);

  test("the guest powers itself off while mounted (as `virsh shutdown` ends a guest that honours ACPI): the same clean end", async () => {
    const uuid = parseDomain(await main.liveXml()).uuid;
    const m = (await hmOk(["mount", "add", "hmtest-main", share, "/mnt/off", "--json"])).json();
    const agent = readPidFile(instancePaths("hmtest-main").agentPid)!;
    const noshmAgent = readPidFile(instancePaths("hmtest-noshm").agentPid) ?? -1;
    // The demo guest has no ACPI daemon: it powers off from inside (guest-exec returns before it ends).
    await main.exec(["sh", "-c", "(sleep 1; poweroff -f) >/dev/null 2>&1 &"]).catch(() => {});
    expect(await waitUntil(async () => /shut off/.test(await virshOk(SYSTEM_URI, ["domstate", "hmtest-main"])), 120_000, 500)).toBe(true);
    expect(await waitUntil(() => !isAlive(agent), 30_000)).toBe(true);
    await waitUntil(() => ourProcesses([noshmAgent]).length === 0, 10_000);
    expect(ourProcesses([noshmAgent]).map((p) => `${p} ${procText(p, "cmdline").replaceAll("\0", " ")}`)).toEqual([]);
    expect(markedVirtiofsd(uuid)).toEqual([]);
    expect(JSON.parse(readFileSync(instancePaths("hmtest-main").journal, "utf8")).mounts).toEqual([]);
    const events = readFileSync(instancePaths("hmtest-main").events, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(events.find((e) => e.type === "mount-failed" && e.mountId === m.id)?.message).toBe("the VM stopped while mounted");
    await virshOk(SYSTEM_URI, ["start", "hmtest-main"]);
    expect(await waitUntil(async () => (await main.qga.probe(3000)) === null, 420_000, 1000)).toBe(true);
    await hmOk(["mount", "add", "hmtest-main", share, "/mnt/off"]);
    expect(await main.run(["cat", "/mnt/off/from-host.txt"])).toBe("bytes from the host\n");
    await hmOk(["mount", "remove", "hmtest-main", "/mnt/off"]);
    await nothingLeft(main);
  }, 900_000);

  // Last: after a libvirtd 9.0 restart, attaching virtiofs fails here with "'virtiofs' requires shared memory"
  // although the live XML still has <access mode='shared'/> (seen once; not yet understood).
  test("a libvirtd restart while mounted: the mount stays, and removes cleanly after", async () => {
    if (!up.startedByUs) return console.warn("libvirtd was running before this file: not restarting someone else's daemon");
    await hmOk(["mount", "add", "hmtest-main", share, "/mnt/lvr"]);
    const pidFile = join(process.env.HOTMOUNT_LIBVIRT_RUN ?? "/run/hotmount-libvirt", "libvirtd.pid");
    const pid = readPidFile(pidFile)!;
    process.kill(pid, "SIGTERM");
    expect(await waitUntil(() => !isAlive(pid), 20_000)).toBe(true);
    const r = Bun.spawnSync([join(import.meta.dir, "../..", "scripts", "libvirt-up")]);
    expect(r.exitCode).toBe(0);
    expect(await main.run(["cat", "/mnt/lvr/from-host.txt"])).toBe("bytes from the host\n");
    expect((await hmOk(["mount", "list", "hmtest-main", "--json"])).json()).toMatchObject([{ mountPoint: "/mnt/lvr", state: "ready" }]);
    // The agent lived through it (its status check falls back to QEMU's pid file) and detaches through the new libvirtd.
    await hmOk(["mount", "remove", "hmtest-main", "/mnt/lvr"]);
    await nothingLeft(main);
  }, 600_000);
});
