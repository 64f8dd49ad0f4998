// Real libvirt for tests and benchmarks: starts libvirtd and virtlogd through scripts/libvirt-up
// (only when qemu:///system does not answer yet) and stops exactly what that started; defines
// domains from the demo guest (direct kernel boot, q35, or virt for aarch64; TCG) the way a user writes them with
// `virsh define`, and undefines them after. Names start with hmtest- (scripts/libvirt-down
// removes any such domain left by a crashed run). Also the checks the libvirt tests share: what of
// ours is left on a domain, in the guest, and among the host's processes.
import { expect } from "bun:test";
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseDomain } from "../../drivers/libvirt/domain-xml.ts";
import { markedVirtiofsd } from "../../drivers/libvirt/virtiofsd-wrapper.ts";
import { ensureSshKey } from "../../src/core/ssh-key.ts";
import type { GuestArch } from "../../src/guest-image/arch.ts";
import { demoGuestAppend, QGA_PORT_NAME } from "../../src/guest-image/contract.ts";
import { ensureDemoGuest } from "../../src/guest-image/demo-guest.ts";
import { VirshQgaExec } from "../../src/guest-exec/virsh-qga-exec.ts";
import { findProcesses, freeLoopbackPort, isAlive, waitUntil } from "../../src/util/process.ts";
import { SYSTEM_URI, virsh, virshOk } from "../../src/util/virsh.ts";

const REPO = join(import.meta.dir, "..", "..");
const IMAGES = "/var/lib/libvirt/images";

/**
 * Why libvirt cannot run here, or null when qemu:///system answers. scripts/libvirt-up runs either
 * way: it starts libvirtd only when qemu:///system does not answer yet (startedByUs), and it also
 * opens /dev/kvm to libvirt-qemu as udev would, without which every define re-probes QEMU.
 */
export function libvirtUp(): { startedByUs: boolean; problem: string | null } {
  if (process.getuid?.() !== 0) return { startedByUs: false, problem: "the libvirt tests need root (qemu:///system)" };
  const before = spawnSync("virsh", ["-c", SYSTEM_URI, "version"], { stdio: "ignore" });
  if (before.error) return { startedByUs: false, problem: "virsh is not installed (scripts/setup installs scripts/deps/libvirt.txt)" };
  const r = spawnSync(join(REPO, "scripts", "libvirt-up"), { encoding: "utf8", timeout: 60_000 });
  return { startedByUs: before.status !== 0 && r.status === 0, problem: r.status === 0 ? null : `scripts/libvirt-up failed: ${r.stderr.trim()}` };
}

/** Stops what scripts/libvirt-up started (daemons only when startedByUs) and undoes its /dev/kvm change. */
export function libvirtDown(): void {
  spawnSync(join(REPO, "scripts", "libvirt-down"), { stdio: "ignore", timeout: 60_000 });
}

export interface DomainSpec {
  name: string;
  /** memfd shared memory backing (virtiofs needs it). */
  sharedMemory: boolean;
  /** Spare pcie-root-ports beyond those libvirt's own devices take. */
  sparePorts: number;
  /** The qemu-guest-agent channel. */
  agent?: boolean;
  /** x86_64 (q35, the default) or aarch64 (virt, the aarch64 demo guest). */
  arch?: GuestArch;
  /** Runs between `virsh define` and `virsh start`, on the shut-off domain (e.g. `libvirt prepare`). */
  beforeStart?: () => Promise<void>;
}

export interface TestDomain {
  name: string;
  sshPort: number;
  xml: string;
  qga: VirshQgaExec;
  /** Runs argv in the guest as root through libvirt's guest agent. */
  run(argv: string[], timeoutMs?: number): Promise<string>;
  exec(argv: string[], timeoutMs?: number): Promise<{ code: number; stdout: string; stderr: string }>;
  liveXml(): Promise<string>;
  destroy(): Promise<void>;
}

/**
 * The domain XML a user would write for the demo guest: what hotmount needs and nothing it added.
 * aarch64: `virt`, no <acpi/> (libvirt ties ACPI on aarch64 to UEFI; the guest gets a device tree,
 * as under `vm start --arch aarch64`), and the -cpu of drivers/qemu/argv-build.ts (`max` with the cheap
 * pointer-auth), given as a QEMU argument after libvirt's own -cpu, which it overrides.
 */
export function demoDomainXml(s: DomainSpec, g: { kernel: string; initrd: string; append: string; sshPort: number; serial: string }): string {
  // virtio-serial and virtio-rng each take one root port of their own.
  const ports = s.sparePorts + (s.agent === false ? 1 : 2);
  const arm = s.arch === "aarch64";
  return `<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>${s.name}</name>
  <memory unit='MiB'>384</memory>
  <vcpu>1</vcpu>
${s.sharedMemory ? "  <memoryBacking><source type='memfd'/><access mode='shared'/></memoryBacking>\n" : ""}  <os>
    <type arch='${arm ? "aarch64" : "x86_64"}' machine='${arm ? "virt" : "q35"}'>hvm</type>
    <kernel>${g.kernel}</kernel>
    <initrd>${g.initrd}</initrd>
    <cmdline>${g.append}</cmdline>
  </os>
${arm ? "" : "  <features><acpi/><apic/></features>\n"}  <cpu mode='maximum'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-${arm ? "aarch64" : "x86_64"}</emulator>
    <controller type='pci' model='pcie-root'/>
${"    <controller type='pci' model='pcie-root-port'/>\n".repeat(ports)}    <controller type='usb' model='none'/>
${s.agent === false ? "" : `    <controller type='virtio-serial'/>\n    <channel type='unix'><target type='virtio' name='${QGA_PORT_NAME}'/></channel>\n`}    <serial type='file'><source path='${g.serial}'/></serial>
    <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>
    <memballoon model='none'/>
  </devices>
  <qemu:commandline>
    <qemu:arg value='-netdev'/>
    <qemu:arg value='user,id=hmnet,hostfwd=tcp:127.0.0.1:${g.sshPort}-:22'/>
    <qemu:arg value='-device'/>
    <qemu:arg value='virtio-net-pci,netdev=hmnet,bus=pcie.0,addr=0x1e'/>
${arm ? "    <qemu:arg value='-cpu'/>\n    <qemu:arg value='max,pauth-impdef=on'/>\n" : ""}  </qemu:commandline>
</domain>
`;
}

/** Defines (virsh define) and starts a demo-guest domain; waits for its guest agent when it has one. */
export async function startDemoDomain(s: DomainSpec): Promise<TestDomain> {
  const g = await ensureDemoGuest({ arch: s.arch });
  // libvirt runs QEMU as libvirt-qemu, which cannot read a build cache under /root.
  const dir = mkdtempSync(join(IMAGES, `${s.name}-`));
  chmodSync(dir, 0o755);
  copyFileSync(g.kernel, join(dir, "vmlinuz"));
  copyFileSync(g.initrd, join(dir, "initrd"));
  const sshPort = await freeLoopbackPort();
  const xml = demoDomainXml(s, {
    kernel: join(dir, "vmlinuz"),
    initrd: join(dir, "initrd"),
    append: demoGuestAppend(ensureSshKey().publicKeyLine, undefined, s.arch),
    sshPort,
    serial: join(dir, "serial.log"),
  });
  const xmlFile = join(dir, "domain.xml");
  writeFileSync(xmlFile, xml);
  const undefine = async () => {
    await virsh(SYSTEM_URI, ["destroy", s.name]);
    await virsh(SYSTEM_URI, ["undefine", s.name]);
  };
  await undefine();
  try {
    await virshOk(SYSTEM_URI, ["define", xmlFile]);
    await s.beforeStart?.();
    await virshOk(SYSTEM_URI, ["start", s.name]);
  } catch (e) {
    // A virsh that timed out may still have defined (or started) the domain in libvirtd.
    await undefine();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const qga = new VirshQgaExec(SYSTEM_URI, s.name);
  const d: TestDomain = {
    name: s.name,
    sshPort,
    xml,
    qga,
    exec: (argv, timeoutMs = 60_000) => qga.exec(argv, { timeoutMs }),
    run: (argv, timeoutMs = 60_000) => qga.run(argv, { timeoutMs }),
    liveXml: () => virshOk(SYSTEM_URI, ["dumpxml", s.name]),
    async destroy() {
      await undefine();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  if (s.agent !== false) {
    const up = await waitUntil(async () => (await qga.probe(3000)) === null, 420_000, 1000);
    if (!up) {
      await d.destroy();
      throw new Error(`domain ${s.name}: the guest agent did not answer within 420 s`);
    }
  }
  return d;
}

export function imagesDirReady(): void {
  mkdirSync(IMAGES, { recursive: true });
}

export async function ours(dom: TestDomain) {
  const v = parseDomain(await dom.liveXml());
  return v.filesystems.filter((f) => f.alias?.startsWith("ua-hm"));
}

export async function guestMountsUnder(dom: TestDomain, prefix: string): Promise<string[]> {
  const text = await dom.run(["cat", "/proc/mounts"]);
  return text
    .split("\n")
    .map((l) => l.split(" ")[1] ?? "")
    .filter((m) => m.startsWith(prefix));
}

export function procText(pid: number, file: string): string {
  try {
    return readFileSync(`/proc/${pid}/${file}`, "utf8");
  } catch {
    return "";
  }
}

/**
 * Processes this file's hotmount started (they carry its HOTMOUNT_HOME), other than those of
 * `keep` agents and their children, and libvirt's daemons and the tini they run under (scripts/libvirt-up ran
 * with that env).
 */
export function ourProcesses(keep: number[]): number[] {
  const home = `HOTMOUNT_HOME=${process.env.HOTMOUNT_HOME}`;
  return findProcesses(() => true).filter((pid) => {
    const ppid = Number(
      procText(pid, "stat")
        .replace(/^.*\) /s, "")
        .split(" ")[1],
    );
    const daemon = ["libvirtd", "virtlogd", "tini"].includes(procText(pid, "comm").trim());
    return !daemon && !keep.includes(pid) && !keep.includes(ppid) && procText(pid, "environ").split("\0").includes(home);
  });
}

/** Nothing of ours on the domain: no <filesystem> in the live XML, no virtiofsd, no guest mount. */
export async function nothingLeft(dom: TestDomain) {
  expect(await ours(dom)).toEqual([]);
  const uuid = parseDomain(await dom.liveXml()).uuid;
  expect(await waitUntil(() => markedVirtiofsd(uuid).length === 0, 10_000)).toBe(true);
  expect(await guestMountsUnder(dom, "/mnt/")).toEqual([]);
}

/** `virsh COMMAND FILE` with `xml` in a temporary FILE; throws with virsh's message unless it exits 0. */
async function virshXml(command: string, xml: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "hmt-virsh-"));
  try {
    writeFileSync(join(dir, "x.xml"), xml);
    const r = await virsh(SYSTEM_URI, [command, join(dir, "x.xml")], { timeoutMs: 60_000 });
    if (r.code !== 0) throw new Error(`virsh ${command} failed: ${r.stderr.trim()}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface TestNetwork {
  name: string;
  bridge: string;
  /** The host's address on the bridge (the first three octets are the /24's). */
  hostAddress: string;
  /** dnsmasq's pid, as libvirt recorded it. */
  dnsmasqPid: number | null;
  destroy(): Promise<void>;
}

/**
 * A transient libvirt NAT network (virsh net-create) with DHCP on its own bridge and /24 (`prefix`
 * is its first three octets). libvirt runs a dnsmasq for it; net-destroy removes the bridge and
 * ends that dnsmasq. One of the same name left by a crashed run is destroyed first.
 */
export async function startTestNetwork(name: string, bridge: string, prefix: string): Promise<TestNetwork> {
  const xml = `<network>
  <name>${name}</name>
  <forward mode='nat'/>
  <bridge name='${bridge}' stp='off' delay='0'/>
  <ip address='${prefix}.1' netmask='255.255.255.0'>
    <dhcp><range start='${prefix}.100' end='${prefix}.199'/></dhcp>
  </ip>
</network>
`;
  await virsh(SYSTEM_URI, ["net-destroy", name]);
  await virshXml("net-create", xml);
  const pidFile = `/run/libvirt/network/${name}.pid`;
  let pid: number | null = null;
  try {
    pid = Number(readFileSync(pidFile, "utf8").trim()) || null;
  } catch {}
  return {
    name,
    bridge,
    hostAddress: `${prefix}.1`,
    dnsmasqPid: pid,
    async destroy() {
      await virsh(SYSTEM_URI, ["net-destroy", name], { timeoutMs: 60_000 });
      // What libvirt 9.0 leaves of a transient network: dnsmasq's pid file and an empty ports folder.
      if (await waitUntil(() => !pid || !isAlive(pid), 10_000))
        for (const p of [pidFile, `/run/libvirt/network/${name}`]) rmSync(p, { recursive: true, force: true });
    },
  };
}

/**
 * A `beforeStart` for startDemoDomain: the defined domain's NIC becomes an <interface
 * type='network'> on `network` with MAC `mac` (virtio), in place of the demo domain's user-mode
 * NIC and its SSH hostfwd, so the host reaches the guest only at the address it gets there.
 */
export function onNetwork(domain: string, network: string, mac: string): () => Promise<void> {
  return async () => {
    const xml = await virshOk(SYSTEM_URI, ["dumpxml", "--inactive", domain]);
    const moved = xml
      .replace(/\s*<qemu:commandline>[\s\S]*?<\/qemu:commandline>/, "")
      .replace(
        "</devices>",
        `  <interface type='network'><source network='${network}'/><mac address='${mac}'/><model type='virtio'/></interface>\n  </devices>`,
      );
    await virshXml("define", moved);
  };
}

/**
 * What a libvirt network changes on the host beyond its bridge and dnsmasq, which net-destroy
 * does not undo: IPv4 forwarding switched on (NAT), and libvirt's LIBVIRT_* iptables chains with
 * the jumps to them (emptied, not removed). The returned function puts back what was there before;
 * call it after the libvirtd that made them has stopped, since that libvirtd makes the chains once.
 */
export function hostNetworkSnapshot(): () => void {
  const forwardFile = "/proc/sys/net/ipv4/ip_forward";
  const forward = readFileSync(forwardFile, "utf8").trim();
  const chains = () => {
    const out: Array<{ table: string; chain: string }> = [];
    for (const table of ["filter", "nat", "mangle"]) {
      const r = spawnSync("iptables", ["-t", table, "-S"], { encoding: "utf8" });
      for (const m of (r.stdout ?? "").matchAll(/^-N (LIBVIRT_\w+)$/gm)) out.push({ table, chain: m[1]! });
    }
    return out;
  };
  const had = new Set(chains().map((c) => `${c.table} ${c.chain}`));
  return () => {
    if (readFileSync(forwardFile, "utf8").trim() !== forward) writeFileSync(forwardFile, `${forward}\n`);
    const added = chains().filter((c) => !had.has(`${c.table} ${c.chain}`));
    for (const { table, chain } of added) {
      const rules = spawnSync("iptables", ["-t", table, "-S"], { encoding: "utf8" }).stdout ?? "";
      for (const m of rules.matchAll(new RegExp(`^-A (\\w+) -j ${chain}$`, "gm"))) spawnSync("iptables", ["-t", table, "-D", m[1]!, "-j", chain]);
      spawnSync("iptables", ["-t", table, "-F", chain]);
    }
    for (const { table, chain } of added) spawnSync("iptables", ["-t", table, "-X", chain]);
  };
}

/** A scratch folder under /tmp (`prefix`…) with a host folder `share` in it holding from-host.txt. */
export function scratchShare(prefix: string): { root: string; share: string } {
  const root = mkdtempSync(`/tmp/${prefix}`);
  const share = join(root, "share");
  mkdirSync(share);
  writeFileSync(join(share, "from-host.txt"), "bytes from the host\n");
  return { root, share };
}
