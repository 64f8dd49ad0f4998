// The VZ driver (drivers/vz) end to end on Linux, with the TEST DOUBLE in place of the dylib, a
// lease-file fixture in place of bootpd and a fake sshd in place of the guest. Proves the driver's
// own logic: boot sequence and its rollback, the SSH forward on the configured port, vz.json for
// other processes, the spare-share slot table behind FSHotPlugger, and bounded power-off. Proves
// nothing about a real guest seeing a share change (see docs/vz.md, "unverified").
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { asFSHotPlugger, type Logger, type PluggedDevice } from "../../drivers/driver.ts";
import { VzDriver } from "../../drivers/vz/vz-driver.ts";
import { hostedVm } from "../../drivers/vz/vz-host.ts";
import { vzRuntimeFile } from "../../src/core/paths.ts";
import { processCommand, readVzRuntime, writeVzRuntime } from "../../drivers/vz/vz-runtime.ts";
import { macForInstance } from "../../drivers/vz/vz-vm-config.ts";
import type { VzLib, VzMachine } from "../../ffi/vz.ts";
import { loadTestDouble } from "../../ffi/vz/testdouble/load-testdouble.ts";
import { InstanceConfig, readInstanceConfig } from "../../src/core/instance-config.ts";
import { freeLoopbackPort } from "../../src/util/process.ts";
import { until } from "../helpers/wait.ts";

const { lib, td } = loadTestDouble();
const quiet: Logger = { info() {}, warn() {}, error() {} };
const noProgress = () => {};
let home: string;
let sshd: Server;
let leases: string;
const prevHome = process.env.HOTMOUNT_HOME;

async function instance(name: string) {
  return InstanceConfig.parse({
    name,
    driver: "vz",
    memoryMiB: 512,
    cpus: 2,
    slots: 2,
    kernel: "/img/Image",
    ssh: { host: "127.0.0.1", port: await freeLoopbackPort(), user: "dev", identityFile: "/k" },
  });
}

/** bootpd's format, MAC with leading zeros dropped as bootpd writes it. */
function lease(name: string, ip = "127.0.0.1") {
  const mac = macForInstance(name)
    .split(":")
    .map((o) => o.replace(/^0/, ""))
    .join(":");
  return `{\n\tname=${name}\n\tip_address=${ip}\n\thw_address=1,${mac}\n\tlease=0x70000000\n}\n`;
}

function banner(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = connect(port, "127.0.0.1");
    c.once("data", (d) => {
      c.destroy();
      resolve(d.toString());
    });
    c.once("error", reject);
  });
}

function driver(over: ConstructorParameters<typeof VzDriver>[0] = {}) {
  const sshPort = (sshd.address() as { port: number }).port;
  return new VzDriver({ loadLib: async () => lib, leasesFile: leases, guestSshPort: sshPort, bootTimeoutMs: 5_000, ...over });
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), "hm-vz-drv-"));
  process.env.HOTMOUNT_HOME = home;
  leases = join(home, "dhcpd_leases");
  writeFileSync(leases, lease("vz-a"));
  sshd = createServer((c) => c.end("SSH-2.0-fake-vz-guest\r\n"));
  await new Promise<void>((r) => sshd.listen(0, "127.0.0.1", () => r()));
});
afterAll(() => {
  sshd.close();
  if (prevHome === undefined) delete process.env.HOTMOUNT_HOME;
  else process.env.HOTMOUNT_HOME = prevHome;
  rmSync(home, { recursive: true, force: true });
});

describe("VZ driver against the test double", () => {
  test("start, SSH through the forward, hot-plug spare shares, power off", async () => {
    const cfg = await instance("vz-a");
    const d = driver();
    expect(await d.start(cfg, noProgress)).toEqual({ state: "running", pid: process.pid, accel: "vz" });
    expect(await banner(cfg.ssh.port)).toBe("SSH-2.0-fake-vz-guest\r\n");
    expect(readVzRuntime("vz-a")).toMatchObject({ pid: process.pid, mac: macForInstance("vz-a"), guestIp: "127.0.0.1" });
    expect(await d.status(cfg)).toEqual({ state: "running", pid: process.pid, accel: "vz" });
    expect((await d.start(cfg, noProgress).catch((e) => e)).code).toBe("INSTANCE_ALREADY_RUNNING");

    const session = await d.openSession(cfg, quiet);
    const hp = asFSHotPlugger(session)!;
    expect(hp).toBeDefined();
    expect(await hp.transports()).toEqual([
      { type: "virtiofs", available: true },
      { type: "9p", available: false, reason: "Virtualization.framework has no 9p device" },
      { type: "reverse-sshfs", available: true },
    ]);
    const machine = hostedVm("vz-a")!.machine;
    const a = join(home, "share-a");
    const b = join(home, "share-b");
    mkdirSync(a);
    mkdirSync(b);

    const devA = await hp.plug({ id: "m-a", type: "virtiofs", hostPath: a, writable: true }, noProgress);
    expect(devA).toEqual({ id: "m-a", type: "virtiofs", tag: "hotmount-0", slot: "vz-fs0" });
    expect(machine.getShare(0)).toEqual({ path: a, readOnly: false });
    const devB = await hp.plug({ id: "m-b", type: "virtiofs", hostPath: b, writable: false }, noProgress);
    expect(devB.tag).toBe("hotmount-1");
    expect(machine.getShare(1)).toEqual({ path: b, readOnly: true });
    expect(await hp.capacity()).toEqual({ total: 2, used: 2 });
    expect(await hp.inventory()).toEqual({
      devices: [
        { id: "m-a", slot: "vz-fs0" },
        { id: "m-b", slot: "vz-fs1" },
      ],
      backends: [],
    });

    const code = async (p: Promise<unknown>) => ((await p.catch((e) => e)) as { code: string }).code;
    expect(await code(hp.plug({ id: "m-c", type: "virtiofs", hostPath: a, writable: false }, noProgress))).toBe("NO_FREE_SLOT");
    expect(await code(hp.plug({ id: "m-a", type: "virtiofs", hostPath: a, writable: false }, noProgress))).toBe("MOUNT_CONFLICT");
    expect(await code(hp.plug({ id: "m-9", type: "9p", hostPath: a, writable: false }, noProgress))).toBe("UNSUPPORTED");

    await hp.unplug(devA, noProgress);
    expect(machine.getShare(0)).toEqual({ path: null, readOnly: true });
    expect(await code(hp.unplug(devA, noProgress))).toBe("MOUNT_NOT_FOUND");
    expect(await code(hp.plug({ id: "m-x", type: "virtiofs", hostPath: join(home, "nope"), writable: false }, noProgress))).toBe("INVALID_ARGUMENT");
    const again: PluggedDevice = await hp.plug({ id: "m-c", type: "virtiofs", hostPath: b, writable: true }, noProgress);
    expect(again.tag).toBe("hotmount-0"); // the freed device is reused
    await hp.scrub("m-b");
    expect(machine.getShare(1).path).toBeNull();
    expect(await hp.capacity()).toEqual({ total: 2, used: 1 });

    await session.powerOff(noProgress);
    expect(await d.status(cfg)).toEqual({ state: "stopped", pid: null, accel: null });
    expect(existsSync(vzRuntimeFile("vz-a"))).toBe(false);
    expect(await banner(cfg.ssh.port).catch((e) => e.code)).toBe("ECONNREFUSED");
    expect(await code(hp.plug({ id: "m-d", type: "virtiofs", hostPath: a, writable: false }, noProgress))).toBe("INSTANCE_NOT_RUNNING");
    expect(await code(d.openSession(cfg, quiet))).toBe("INSTANCE_NOT_RUNNING");
  });

  test("ssh.port 0 means: choose one at start, and record it in instance.json", async () => {
    const cfg = { ...(await instance("vz-a")), ssh: { host: "127.0.0.1", port: 0, user: "dev", identityFile: "/k" } };
    const d = driver();
    await d.start(cfg, noProgress);
    expect(cfg.ssh.port).toBeGreaterThan(0);
    expect(readInstanceConfig("vz-a").ssh.port).toBe(cfg.ssh.port);
    expect(await banner(cfg.ssh.port)).toBe("SSH-2.0-fake-vz-guest\r\n");
    await d.stop(cfg, noProgress);
    expect((await d.status(cfg)).state).toBe("stopped");
  });

  test("no DHCP lease in time: TIMEOUT, and nothing left behind", async () => {
    const cfg = await instance("vz-nolease");
    const e = await driver({ bootTimeoutMs: 600 })
      .start(cfg, noProgress)
      .catch((x) => x);
    expect(e.code).toBe("TIMEOUT");
    expect(e.message).toContain("got no DHCP lease");
    expect(hostedVm("vz-nolease")).toBeUndefined();
    expect(existsSync(vzRuntimeFile("vz-nolease"))).toBe(false);
    expect(await banner(cfg.ssh.port).catch((x) => x.code)).toBe("ECONNREFUSED");
  });

  test("a guest that powers off while booting fails the start with its reason", async () => {
    const cfg = await instance("vz-dies");
    let made: VzMachine | undefined;
    const spy = Object.create(lib) as VzLib;
    spy.create = (c) => (made = lib.create(c));
    const start = driver({ loadLib: async () => spy, bootTimeoutMs: 10_000 })
      .start(cfg, noProgress)
      .catch((x) => x);
    await until(() => made !== undefined, 10_000, "the VM to be created");
    td.guestPoweroff(made!.handle);
    const e = await start;
    expect(e.code).toBe("VM_START_FAILED");
    expect(e.message).toContain("stopped while booting: the guest powered off");
    expect(existsSync(vzRuntimeFile("vz-dies"))).toBe(false);
  });

  test("a VM hosted by another process: seen as running, not controllable, stopped by ending that process", async () => {
    const cfg = await instance("vz-foreign");
    const child = Bun.spawn(["sleep", "60"]);
    await until(() => processCommand(child.pid)?.startsWith("sleep") === true, 5000, "the child to exec sleep");
    writeVzRuntime("vz-foreign", { pid: child.pid, command: processCommand(child.pid)!, mac: "02:00:00:00:00:09", guestIp: null, startedAt: "" });
    const d = driver();
    expect(await d.status(cfg)).toEqual({ state: "running", pid: child.pid, accel: "vz" });
    expect(((await d.openSession(cfg, quiet).catch((e) => e)) as { code: string }).code).toBe("UNSUPPORTED");
    expect(((await d.start(cfg, noProgress).catch((e) => e)) as { code: string }).code).toBe("INSTANCE_ALREADY_RUNNING");
    await d.stop(cfg, noProgress);
    expect(await child.exited).not.toBe(0);
    expect(await d.status(cfg)).toEqual({ state: "stopped", pid: null, accel: null });
    expect(existsSync(vzRuntimeFile("vz-foreign"))).toBe(false);
  });

  test("a stale vz.json (pid reused by another program) does not count as running", async () => {
    const cfg = await instance("vz-stale");
    writeVzRuntime("vz-stale", { pid: process.pid, command: "some other program", mac: "02:00:00:00:00:0a", guestIp: null, startedAt: "" });
    expect((await driver().status(cfg)).state).toBe("stopped");
  });

  // On macOS the real framework is there, so there is nothing to refuse.
  test.skipIf(process.platform === "darwin")("without an injected library the driver is macOS-only (Linux and other hosts)", async () => {
    const e = await new VzDriver().start(await instance("vz-linux"), noProgress).catch((x) => x);
    expect(e.code).toBe("UNSUPPORTED");
    expect(e.message).toContain("macOS only");
  });
});
