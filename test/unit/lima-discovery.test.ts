// Lima discovery and the wrapper's decisions, without a VM: $LIMA_HOME layout, ssh.config,
// lima.yaml defaults, instance state from pid files, hotmount names, and what the wrapper does
// with probes, foreign command lines and conflicts (Lima's VM must still start).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hmNameFor, listLimaInstances } from "../../drivers/lima/lima-instance.ts";
import { limaTransports, notHotPluggable } from "../../drivers/lima/lima-session.ts";
import { limaTargetOf, wrapLimaLaunch } from "../../drivers/lima/lima-wrap.ts";
import { limaSshTarget, parseSshConfig } from "../../drivers/lima/ssh-config.ts";
import { liveWrap, readLimaLink, readWrapMarker } from "../../drivers/lima/wrap-marker.ts";
import { instancePaths } from "../../src/core/paths.ts";
import { LIMA_PROBES, limaQemuArgv } from "../fixtures/lima/qemu-argv.ts";

let home: string;
let sleeper: Bun.Subprocess | null = null;
const savedLimaHome = process.env.LIMA_HOME;
const yaml = (name: string, body: string) => {
  mkdirSync(join(home, name), { recursive: true });
  writeFileSync(join(home, name, "lima.yaml"), body);
  return join(home, name);
};
const argvFor = (name: string, machine = "q35,accel=kvm") =>
  [
    "/usr/bin/qemu-system-x86_64",
    ...limaQemuArgv({
      instDir: join(home, name),
      name,
      accel: "kvm",
      memoryMiB: 2048,
      cpus: 2,
      sshPort: 60022,
      mac: "52:55:55:00:00:01",
      mountType: "9p",
      mounts: [],
      firmware: null,
      kernelCmdline: null,
    }),
  ].map((a) => (a === "q35,accel=kvm" ? machine : a));

beforeAll(() => {
  home = mkdtempSync(`${tmpdir()}/hmld-`);
  process.env.LIMA_HOME = home;
});
afterAll(() => {
  sleeper?.kill();
  if (savedLimaHome === undefined) delete process.env.LIMA_HOME;
  else process.env.LIMA_HOME = savedLimaHome;
  rmSync(home, { recursive: true, force: true });
  // The test HOTMOUNT_HOME is shared with the other files of a run.
  for (const n of ["taken", "default"]) rmSync(instancePaths(n).dir, { recursive: true, force: true });
});

test("ssh.config as Lima writes it: Host lima-<name>, quoted IdentityFile, User, Hostname, Port", () => {
  // test/fixtures/lima/ssh.config: pkg/hostagent writeSSHConfigFile + pkg/sshutil Format("config").
  const path = join(import.meta.dir, "..", "fixtures", "lima", "ssh.config");
  const [b] = parseSshConfig(readFileSync(path, "utf8"));
  expect(b).toEqual({
    host: "lima-default",
    hostname: "127.0.0.1",
    port: 60022,
    user: "example",
    identityFiles: ["/Users/example/.lima/_config/user", "/Users/example/.ssh/id_ed25519"],
  });
  expect(limaSshTarget(path, "default")).toEqual({ host: "127.0.0.1", port: 60022, user: "example", identityFile: "/Users/example/.lima/_config/user" });
  expect(limaSshTarget(join(home, "nope"), "x")).toBeNull();
});

test("discovery: instance dirs with lima.yaml; _config and the like skipped; Lima's defaults filled in", () => {
  yaml("default", "cpus: 2\nmemory: 2GiB\n");
  const old = yaml("old", "vmType: qemu\n");
  writeFileSync(join(old, "lima-version"), "0.23.2\n");
  yaml("mac", "vmType: vz\n");
  mkdirSync(join(home, "_config"), { recursive: true });
  mkdirSync(join(home, "notaninstance"), { recursive: true });
  const byName = Object.fromEntries(listLimaInstances().map((i) => [i.limaName, i]));
  expect(Object.keys(byName).sort()).toEqual(["default", "mac", "old"]);
  expect(byName.default).toMatchObject({
    vmType: process.platform === "darwin" ? "vz" : "qemu",
    mountType: "9p",
    cpus: 2,
    memoryMiB: 2048,
    state: "stopped",
    ssh: null,
  });
  expect(byName.old!.mountType).toBe("reverse-sshfs"); // created by Lima < 1.0
  expect(byName.mac).toMatchObject({ vmType: "vz", mountType: "virtiofs" });
});

test("state from Lima's pid files: ha.pid alone is starting, a live qemu.pid naming the dir is running", () => {
  const dir = yaml("st", "vmType: qemu\n");
  writeFileSync(join(dir, "ha.pid"), `${process.pid}\n`);
  expect(listLimaInstances().find((i) => i.limaName === "st")!.state).toBe("starting");
  // A live pid whose command line does not mention the instance dir is a reused pid, not QEMU.
  writeFileSync(join(dir, "qemu.pid"), `${process.pid}\n`);
  expect(listLimaInstances().find((i) => i.limaName === "st")!.state).toBe("starting");
  sleeper = Bun.spawn(["sh", "-c", "sleep 60", dir]);
  // Its pid exists before its exec does (slow under an emulated Bun): wait for its own argv.
  const cmdline = `/proc/${sleeper.pid}/cmdline`;
  for (let i = 0; i < 500 && !(existsSync(cmdline) && readFileSync(cmdline, "utf8").includes(dir)); i++) Bun.sleepSync(10);
  writeFileSync(join(dir, "qemu.pid"), `${sleeper.pid}\n`);
  expect(listLimaInstances().find((i) => i.limaName === "st")).toMatchObject({ state: "running", vmPid: sleeper.pid });
});

test("hotmount names: the Lima name when free and valid, else lima-<name>", () => {
  expect(hmNameFor("default")).toBe("default");
  expect(hmNameFor("My_VM.1")).toBe("lima-my-vm-1");
  mkdirSync(instancePaths("taken").dir, { recursive: true });
  writeFileSync(instancePaths("taken").config, "{}");
  expect(hmNameFor("taken")).toBe("lima-taken");
});

test("the wrapper passes Lima's probes and foreign command lines through untouched", () => {
  for (const p of LIMA_PROBES)
    expect(wrapLimaLaunch(["/q", ...p], { slots: 8, ninePSlots: 4, pid: 1, strict: false })).toMatchObject({ argv: ["/q", ...p], marker: null });
  const foreign = ["/q", "-machine", "q35", "-m", "1G"];
  const r = wrapLimaLaunch(foreign, { slots: 8, ninePSlots: 4, pid: 1, strict: false });
  expect(r.argv).toEqual(foreign);
  expect(r.notes[0]).toContain("not Lima's VM command line");
  expect(() => wrapLimaLaunch(foreign, { slots: 8, ninePSlots: 4, pid: 1, strict: true })).toThrow("not Lima's VM command line");
  expect(limaTargetOf(argvFor("default").slice(1))).toEqual({ limaDir: join(home, "default"), limaName: "default" });
});

test("a Lima command line it can extend: marker with the QEMU pid, link, 9p links, stale journal gone", () => {
  mkdirSync(instancePaths("default").dir, { recursive: true });
  writeFileSync(instancePaths("default").journal, "[]");
  const r = wrapLimaLaunch(argvFor("default"), { slots: 4, ninePSlots: 2, pid: 4242, strict: false });
  expect(r.hmName).toBe("default");
  expect(r.argv.length).toBeGreaterThan(argvFor("default").length);
  expect(readWrapMarker("default")).toMatchObject({ pid: 4242, slots: 4, ninePSlots: 2, memory: "memfd-added", memoryMiB: 2048, accel: "kvm", argv: r.argv });
  expect(readLimaLink("default")).toEqual({ limaDir: join(home, "default"), limaName: "default", vmPid: 4242 });
  expect(existsSync(join(instancePaths("default").ninePDir, "slot1"))).toBe(true);
  expect(existsSync(instancePaths("default").journal)).toBe(false);
  // The marker counts only for the QEMU it was written for.
  const inst = listLimaInstances().find((i) => i.limaName === "default")!;
  expect(liveWrap(inst)).toBeNull();
  expect(liveWrap({ ...inst, vmPid: 4242 })?.pid).toBe(4242);
});

test("a conflicting Lima command line runs unchanged; the marker and `mount add` say why", () => {
  const pc = argvFor("default", "pc,accel=kvm");
  const r = wrapLimaLaunch(pc, { slots: 4, ninePSlots: 2, pid: 4343, strict: false });
  expect(r.argv).toEqual(pc);
  expect(r.notes[0]).toContain("running Lima's command line unchanged");
  const marker = readWrapMarker("default")!;
  expect(marker.conflict!.message).toContain("your command line has -machine pc");
  const inst = { ...listLimaInstances().find((i) => i.limaName === "default")!, vmType: "qemu", vmPid: 4343, state: "running" as const };
  const e = notHotPluggable(inst, liveWrap(inst));
  expect(e.message).toBe(`hotmount's QEMU wrapper ran for Lima instance "default" but could not add hot-plug capacity: ${marker.conflict!.message}`);
  expect(e.hint).toContain("Add -machine q35");
  expect(limaTransports(inst, liveWrap(inst)).map((t) => t.available)).toEqual([false, false, true]);
  expect(() => wrapLimaLaunch(pc, { slots: 4, ninePSlots: 2, pid: 4343, strict: true })).toThrow("need the q35 machine");
});

test("a vz Lima instance: reverse-sshfs only, and the refusal names vmType", () => {
  const inst = { ...listLimaInstances().find((i) => i.limaName === "mac")!, state: "running" as const, vmPid: 1 };
  const e = notHotPluggable(inst, null);
  expect(e.message).toBe('Lima instance "mac" runs on vmType vz, not QEMU: hotmount can hot-plug virtiofs and 9p devices only into Lima\'s QEMU instances');
  expect(e.hint).toContain("--type reverse-sshfs");
  expect(limaTransports(inst, null)).toEqual([
    { type: "virtiofs", available: false, reason: e.message },
    { type: "9p", available: false, reason: e.message },
    { type: "reverse-sshfs", available: true },
  ]);
});
