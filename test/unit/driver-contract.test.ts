// The driver contract's checks that need no VM: device tags within each device type's limit (and
// refused by the QEMU plug paths before they touch anything), and which registered driver has
// which optional capability, with the refusal a driver without lifecycle gives.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { asVmDiscovery, asVmLifecycle, deviceTag, requireVmLifecycle } from "../../drivers/driver.ts";
import { allDrivers, getDriver } from "../../drivers/index.ts";
import { plug9p } from "../../drivers/qemu/hotplug-9p.ts";
import { plugVirtiofs } from "../../drivers/qemu/hotplug-virtiofs.ts";
import type { HotplugContext } from "../../drivers/qemu/qemu-session.ts";
import { InstanceConfig } from "../../src/core/instance-config.ts";

const limaHome = mkdtempSync(`${tmpdir()}/hmt-lima-`);
process.env.LIMA_HOME = limaHome;
afterAll(() => rmSync(limaHome, { recursive: true, force: true }));

const codeOf = async (p: Promise<unknown>) => ((await p.then(() => null).catch((e) => e)) as { code?: string } | null)?.code;

test("a device tag fits its type's limit: virtiofs 36 bytes, 9p 31", () => {
  expect(deviceTag({ id: "a".repeat(36), type: "virtiofs" })).toBe("a".repeat(36));
  expect(() => deviceTag({ id: "a".repeat(37), type: "virtiofs" })).toThrow("longer than 36 bytes");
  expect(deviceTag({ id: "a".repeat(31), type: "9p" })).toBe("a".repeat(31));
  expect(() => deviceTag({ id: "a".repeat(32), type: "9p" })).toThrow("longer than 31 bytes");
  // Bytes, not characters.
  expect(() => deviceTag({ id: "é".repeat(16), type: "9p" })).toThrow("longer than 31 bytes");
});

test("the QEMU plug paths refuse a too-long tag before they touch the VM", async () => {
  // Any use of the context (slots, QMP, virtiofsd) would fail with a TypeError instead.
  const untouchable = {} as HotplugContext;
  const req = { hostPath: "/tmp", writable: false };
  expect(await codeOf(plug9p(untouchable, { ...req, id: "a".repeat(32), type: "9p" }, () => {}))).toBe("INVALID_ARGUMENT");
  expect(await codeOf(plugVirtiofs(untouchable, { ...req, id: "a".repeat(37), type: "virtiofs" }, () => {}))).toBe("INVALID_ARGUMENT");
});

test("qemu and vz have a lifecycle; lima has none and discovers its VMs instead", () => {
  const lifecycle = allDrivers()
    .filter((d) => asVmLifecycle(d))
    .map((d) => d.name)
    .sort();
  expect(lifecycle).toEqual(["qemu", "vz"]);
  expect(asVmDiscovery(getDriver("lima"))).toBeDefined();
  expect(asVmDiscovery(getDriver("qemu"))).toBeUndefined();
  expect(asVmLifecycle(getDriver("vz"))?.vmLivesInCaller).toBe(true);
});

test("vm start/stop on a driver without lifecycle get the driver's own refusal", () => {
  const cfg = InstanceConfig.parse({
    name: "lu",
    driver: "lima",
    memoryMiB: 512,
    cpus: 1,
    slots: 0,
    kernel: "",
    ssh: { host: "127.0.0.1", port: 22, user: "u", identityFile: "/k" },
  });
  const lima = getDriver("lima");
  expect(() => requireVmLifecycle(lima, cfg, "start")).toThrow('"lu" is a Lima instance: Lima starts it, not hotmount');
  let stop: { code?: string; hint?: string } = {};
  try {
    requireVmLifecycle(lima, cfg, "stop");
  } catch (e) {
    stop = e as typeof stop;
  }
  expect(stop.code).toBe("UNSUPPORTED");
  expect(stop.hint).toBe("Stop the VM with `limactl stop lu`.");
  expect(requireVmLifecycle(getDriver("qemu"), cfg, "stop").name).toBe("qemu");
});

test("discovery on an empty LIMA_HOME finds nothing and registers nothing", async () => {
  const lima = asVmDiscovery(getDriver("lima"))!;
  expect(await lima.discover()).toEqual([]);
  expect(await lima.register("nothere")).toBeNull();
});
