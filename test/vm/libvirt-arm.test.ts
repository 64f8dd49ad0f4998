// The libvirt driver on an aarch64 `virt` domain (libvirt runs it under TCG on this x86_64 host),
// one domain boot for the file: the domain is defined by hand from the aarch64 demo guest without
// shared memory or spare root ports, `hotmount libvirt prepare` makes it hot-plug ready while it is
// shut off, libvirt boots it, hotmount discovers it, and virtiofs is hot-plugged through libvirt
// (two mounts on two root ports, bytes both ways) and removed again. Runs in stage 2 (libvirt 9,
// QEMU 7.2); prints add/remove times for docs/arm.md.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseDomain } from "../../drivers/libvirt/domain-xml.ts";
import { instancePaths } from "../../src/core/paths.ts";
import { isAlive, readPidFile, waitUntil } from "../../src/util/process.ts";
import { hmOk } from "../helpers/cli.ts";
import { imagesDirReady, libvirtDown, libvirtUp, nothingLeft, ours, startDemoDomain, type TestDomain } from "../helpers/libvirt.ts";

const NAME = "hmtest-arm64";
const HAVE_QEMU = !!Bun.which("qemu-system-aarch64");
const up = HAVE_QEMU ? libvirtUp() : { startedByUs: false, problem: "qemu-system-aarch64 is missing (scripts/deps/arm.txt)" };
if (up.problem) console.warn(`test/vm/libvirt-arm.test.ts skipped: ${up.problem}`);
const d = up.problem ? describe.skip : describe;

const root = mkdtempSync("/tmp/hmt-lvarm-");
const share = join(root, "share");
mkdirSync(share);
writeFileSync(join(share, "from-host.txt"), "bytes from the host\n");

let dom: TestDomain;
let prepared: { changes: string[]; applied: boolean; nextBoot: boolean } | null = null;
let bootSeconds = 0;
const times: Record<string, number[]> = {};
const timed = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
  const t = performance.now();
  const r = await f();
  (times[what] ??= []).push(Math.round(performance.now() - t));
  return r;
};

beforeAll(async () => {
  if (up.problem) return;
  imagesDirReady();
  const t0 = performance.now();
  dom = await startDemoDomain({
    name: NAME,
    arch: "aarch64",
    sharedMemory: false,
    sparePorts: 0,
    // The domain as a user defined it, made ready by hotmount before its one boot.
    beforeStart: async () => {
      prepared = (await hmOk(["libvirt", "prepare", NAME, "--slots", "4", "--json"])).json();
    },
  });
  bootSeconds = (performance.now() - t0) / 1000;
}, 900_000);

afterAll(async () => {
  if (up.problem) return;
  const rows = Object.entries(times).map(([k, v]) => `  ${k.padEnd(16)} ${v.join(", ")} ms`);
  console.log(`libvirt aarch64 virt (TCG): define, prepare, boot to the guest agent ${bootSeconds.toFixed(1)} s\n${rows.join("\n")}`);
  const pid = readPidFile(instancePaths(NAME).agentPid);
  if (pid && isAlive(pid)) process.kill(pid, "SIGTERM");
  if (pid) await waitUntil(() => !isAlive(pid), 10_000);
  await dom?.destroy();
  libvirtDown();
  rmSync(root, { recursive: true, force: true });
}, 120_000);

d("libvirt aarch64 virt domain", () => {
  test("prepare made the shut-off virt domain hot-plug ready: memfd shared memory, 4 spare root ports", async () => {
    expect(prepared).toMatchObject({ applied: true, nextBoot: false });
    expect(prepared!.changes).toEqual([expect.stringContaining("memfd shared memory"), expect.stringContaining("4 spare pcie-root-port")]);
    const v = parseDomain(await dom.liveXml());
    expect(v.machine).toMatch(/^virt(-[\d.]+)?$/);
    expect(await dom.liveXml()).toContain("arch='aarch64'");
    expect(v.sharedMemory).toBe(true);
    expect(v.freeRootPorts.length).toBe(4);
    expect(await dom.run(["uname", "-m"])).toBe("aarch64\n");
  }, 900_000);

  test("vm list finds it: libvirt, running, TCG, 4 slots, virtiofs available", async () => {
    const list = (await hmOk(["vm", "list", "--json"])).json() as any[];
    const m = list.find((i) => i.name === NAME);
    expect(m).toMatchObject({ driver: "libvirt", state: "running", accel: "tcg", slots: { total: 4, used: 0 } });
    expect(m.ssh).toMatchObject({ host: "127.0.0.1", port: dom.sshPort });
    expect(m.transports.find((t: any) => t.type === "virtiofs")).toEqual({ type: "virtiofs", available: true });
  }, 900_000);

  test("virtiofs add and remove, writable and read-only on two root ports: bytes both ways, nothing left", async () => {
    const rw = await timed("virtiofs add", async () => (await hmOk(["mount", "add", NAME, share, "/mnt/rw", "--writable", "--json"])).json());
    const ro = await timed("virtiofs add", async () => (await hmOk(["mount", "add", NAME, share, "/mnt/ro", "--json"])).json());
    for (const m of [rw, ro]) expect(m).toMatchObject({ type: "virtiofs", state: "ready", slot: expect.stringMatching(/^pci\.\d+$/) });
    expect(rw.slot).not.toBe(ro.slot);
    expect(JSON.parse(readFileSync(instancePaths(NAME).config, "utf8"))).toMatchObject({ driver: "libvirt", external: "libvirt" });
    expect((await ours(dom)).map((f) => f.alias).sort()).toEqual([`ua-${rw.id}`, `ua-${ro.id}`].sort());
    // The guest found both devices through pciehp on the root ports, without a PCI rescan.
    expect(await dom.run(["cat", "/mnt/rw/from-host.txt"])).toBe("bytes from the host\n");
    expect(await dom.run(["cat", "/mnt/ro/from-host.txt"])).toBe("bytes from the host\n");
    await dom.run(["sh", "-c", "echo bytes from the guest > /mnt/rw/from-guest.txt"]);
    expect(readFileSync(join(share, "from-guest.txt"), "utf8")).toBe("bytes from the guest\n");
    expect(await dom.run(["cat", "/mnt/ro/from-guest.txt"])).toBe("bytes from the guest\n");
    const w = await dom.exec(["sh", "-c", "echo x > /mnt/ro/new.txt"]);
    expect(w.code).not.toBe(0);
    const info = (await hmOk(["vm", "list", "--json"])).json().find((i: any) => i.name === NAME);
    expect(info).toMatchObject({ slots: { total: 4, used: 2 }, mounts: 2 });
    await timed("virtiofs remove", () => hmOk(["mount", "remove", NAME, "/mnt/ro"]));
    await timed("virtiofs remove", () => hmOk(["mount", "remove", NAME, "/mnt/rw"]));
    await nothingLeft(dom);
    expect(parseDomain(await dom.liveXml()).freeRootPorts.length).toBe(4);
  }, 900_000);
});
