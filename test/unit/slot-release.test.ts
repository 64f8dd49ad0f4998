// The virt machine's fast unplug (drivers/qemu/slot-release.ts): which bus the guest gave a root
// port, read from QEMU's query-pci, and the guest command that powers off exactly that slot (run
// here against a folder laid out like /sys/bus/pci/slots).
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { busBehind } from "../../drivers/qemu/slot-release.ts";
import { portSlotPowerOffArgv, slotPowerOffArgv } from "../../src/guest-exec/pci-slot.ts";
import type { PciBus, PciDevice } from "../../src/qmp/index.ts";

const dev = (qdev_id: string, extra: Partial<PciDevice> = {}): PciDevice => ({
  bus: 0,
  slot: 0x10,
  function: 0,
  class_info: { class: 0x0604 },
  id: { vendor: 0x1b36, device: 0x000c },
  qdev_id,
  ...extra,
});
const port = (id: string, secondary: number, child?: string) =>
  dev(id, { pci_bridge: { bus: { number: 0, secondary, subordinate: secondary }, devices: child ? [dev(child, { bus: secondary, slot: 0 })] : [] } });

test("busBehind: the secondary bus of the root port holding the device, else null", () => {
  const buses: PciBus[] = [{ bus: 0, devices: [dev(""), port("hp0", 1, "hm1"), port("hp1", 2), port("hp2", 0x1a, "hm2")] }];
  expect(busBehind(buses, "hp0", "hm1")).toBe(1);
  expect(busBehind(buses, "hp2", "hm2")).toBe(0x1a);
  // Another device behind the port, an empty port, an unknown port: never a guess.
  expect(busBehind(buses, "hp0", "hm2")).toBeNull();
  expect(busBehind(buses, "hp1", "hm1")).toBeNull();
  expect(busBehind(buses, "hp9", "hm1")).toBeNull();
});

const root = mkdtempSync(join(tmpdir(), "hm-slots-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

test("the guest command powers off only the slot at that bus, and fails when there is none", () => {
  const slots = join(root, "slots");
  for (const [name, addr] of [
    ["1", "0000:01:00"],
    ["2", "0000:02:00"],
    ["26", "0000:1a:00"],
  ]) {
    mkdirSync(join(slots, name!), { recursive: true });
    writeFileSync(join(slots, name!, "address"), `${addr}\n`);
    writeFileSync(join(slots, name!, "power"), "1\n");
  }
  const run = (bus: number) => Bun.spawnSync(slotPowerOffArgv(bus, slots)).exitCode;
  expect(run(0x1a)).toBe(0);
  const power = (n: string) => readFileSync(join(slots, n, "power"), "utf8").trim();
  expect([power("1"), power("2"), power("26")]).toEqual(["1", "1", "0"]);
  expect(run(7)).toBe(3);
  expect([power("1"), power("2")]).toEqual(["1", "1"]);
});

test("by root port (libvirt): the bus the guest numbered behind the port 00:SS.F, then its slot", () => {
  const devices = join(root, "devices");
  const slots = join(root, "slots-lv");
  mkdirSync(join(devices, "0000:00:01.2", "pci_bus", "0000:03"), { recursive: true });
  mkdirSync(join(devices, "0000:00:01.3", "pci_bus", "0000:04"), { recursive: true });
  for (const [name, addr] of [
    ["0", "0000:03:00"],
    ["0-1", "0000:04:00"],
  ]) {
    mkdirSync(join(slots, name!), { recursive: true });
    writeFileSync(join(slots, name!, "address"), `${addr}\n`);
    writeFileSync(join(slots, name!, "power"), "1\n");
  }
  const power = (n: string) => readFileSync(join(slots, n, "power"), "utf8").trim();
  expect(Bun.spawnSync(portSlotPowerOffArgv({ slot: 1, function: 3 }, devices, slots)).exitCode).toBe(0);
  expect([power("0"), power("0-1")]).toEqual(["1", "0"]);
  expect(Bun.spawnSync(portSlotPowerOffArgv({ slot: 2, function: 0 }, devices, slots)).exitCode).toBe(3);
  expect(power("0")).toBe("1");
});
