// libvirt domains as hotmount sees them: every domain of qemu:///system (as root) or
// qemu:///session (as another user), with its state and what it can take right now. A domain
// keeps its own name in hotmount when that is a valid hotmount name not taken by one of
// hotmount's own VMs; otherwise it is listed as libvirt-<name>.
import { existsSync, readFileSync } from "node:fs";
import type { DiscoveredVm, InstanceState, SshInfo } from "../../src/core/model.ts";
import { INSTANCE_NAME_RE, type InstanceConfig } from "../../src/core/instance-config.ts";
import { instancePaths } from "../../src/core/paths.ts";
import { isAlive, readPidFile } from "../../src/util/process.ts";
import { SESSION_URI, SYSTEM_URI, virsh } from "../../src/util/virsh.ts";
import { parseDomain, type DomainView } from "./domain-xml.ts";
import { libvirtTransports } from "./libvirt-session.ts";
import { sshLogin } from "./ssh-login.ts";

export interface LibvirtDomain {
  uri: string;
  hmName: string;
  view: DomainView;
  state: InstanceState;
  /** libvirt's own word for the state (running, shut off, paused, ...). */
  libvirtState: string;
  pid: number | null;
  accel: string | null;
  ssh: SshInfo | null;
  /** Where ssh's address came from (null with ssh). */
  sshFrom: SshSource | null;
}

/** The URIs hotmount looks at: HOTMOUNT_LIBVIRT_URIS (comma-separated), else system for root, session otherwise. */
export function libvirtUris(): string[] {
  const env = process.env.HOTMOUNT_LIBVIRT_URIS;
  if (env)
    return env
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
  return process.getuid?.() === 0 ? [SYSTEM_URI] : [SESSION_URI, SYSTEM_URI];
}

function registeredAs(name: string): { external?: string; libvirt?: { uri: string; domain: string } } | null {
  try {
    return JSON.parse(readFileSync(instancePaths(name).config, "utf8"));
  } catch {
    return null;
  }
}

export function hmNameFor(domain: string, uri: string): string {
  const reg = registeredAs(domain);
  const ours = reg && !(reg.external === "libvirt" && reg.libvirt?.domain === domain && reg.libvirt.uri === uri);
  if (INSTANCE_NAME_RE.test(domain) && !ours && !(existsSync(instancePaths(domain).config) && !reg)) return domain;
  return `libvirt-${domain.toLowerCase().replace(/[^a-z0-9-]/g, "-")}`.slice(0, 31).replace(/-+$/, "");
}

export function toState(s: string): InstanceState {
  if (/^running|^paused|^pmsuspended/.test(s)) return "running";
  if (/^in shutdown/.test(s)) return "stopping";
  if (/^crashed/.test(s)) return "broken";
  return "stopped";
}

/** Where a guest's SSH address came from: the domain's port forward, or a `virsh domifaddr` source. */
export type SshSource = "hostfwd" | "agent" | "lease" | "arp";

/** `virsh domifaddr` sources, asked in this order until one names an address of the domain's NICs. */
const ADDRESS_SOURCES = ["agent", "lease", "arp"] as const;
/** All sources of one domain together (this runs in `vm list` and `mount list`). */
const ADDRESS_BUDGET_MS = 8_000;
const ADDRESS_CALL_MS = 5_000;

/**
 * MAC addresses (lower case) of the domain's NICs that the host can reach: every `<interface>`
 * but user-mode networking's, whose guest address (10.0.2.15) only the guest itself can use.
 */
export function reachableMacs(xml: string): string[] {
  const out: string[] = [];
  for (const m of xml.matchAll(/<interface\s[^>]*type=['"](\w+)['"][\s\S]*?<\/interface>/g)) {
    if (m[1] === "user") continue;
    const mac = /<mac\s+address=['"]([0-9a-fA-F:]{17})['"]/.exec(m[0])?.[1];
    if (mac) out.push(mac.toLowerCase());
  }
  return out;
}

/**
 * The IPv4 addresses in `virsh domifaddr` output, each with its NIC's MAC. A NIC's further
 * addresses come on lines of their own whose name and MAC are "-".
 */
export function parseDomifaddr(out: string): Array<{ mac: string; address: string }> {
  const found: Array<{ mac: string; address: string }> = [];
  let mac = "";
  for (const line of out.split("\n")) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 4) continue;
    if (/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(cols[1]!)) mac = cols[1]!.toLowerCase();
    else if (cols[1] !== "-") continue; // the header, or a line of dashes
    const ip = cols[2] === "ipv4" ? /^(\d+\.\d+\.\d+\.\d+)\/\d+$/.exec(cols[3]!)?.[1] : undefined;
    if (ip && mac) found.push({ mac, address: ip });
  }
  return found;
}

/** A libvirt on this host (qemu:///system, qemu:///session), whose guests' neighbour entries are ours to read. */
const isLocalUri = (uri: string) => /^[a-z0-9]+(\+unix)?:\/\/\//i.test(uri);

/**
 * This host's ARP table (/proc/net/arp), complete entries only. Read directly rather than through
 * `virsh domifaddr --source arp`: libvirt 9.0 fails that with "wrong nlmsg len" on kernels that
 * end a neighbour dump with a short NLMSG_DONE in the same read (6.18 here).
 */
export function hostArpTable(text?: string): Array<{ mac: string; address: string }> {
  let t = text;
  if (t === undefined) {
    try {
      t = readFileSync("/proc/net/arp", "utf8");
    } catch {
      return [];
    }
  }
  const out: Array<{ mac: string; address: string }> = [];
  for (const line of t.split("\n").slice(1)) {
    const [ip, , flags, mac] = line.trim().split(/\s+/);
    if (ip && mac && /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(mac) && (Number(flags) & 0x2) !== 0) out.push({ mac: mac.toLowerCase(), address: ip });
  }
  return out;
}

const usable = (ip: string) => !/^(127|169\.254|0)\./.test(ip);

/**
 * The guest's SSH: a user-mode hostfwd to port 22, else an address of one of the domain's NICs
 * that `virsh domifaddr` reports: from the guest agent (when its channel is connected), else
 * libvirt's DHCP lease (a libvirt network), else the ARP table of the host libvirt runs on (a
 * guest that has talked lately; read here directly for a local URI). Bounded by ADDRESS_BUDGET_MS
 * in all.
 */
async function sshOf(uri: string, v: DomainView, xml: string): Promise<{ ssh: SshInfo; from: SshSource } | null> {
  const { user, identityFile } = sshLogin(uri, v.name);
  if (v.sshForward) return { ssh: { host: v.sshForward.host, port: v.sshForward.port, user, identityFile }, from: "hostfwd" };
  const macs = reachableMacs(xml);
  if (macs.length === 0) return null;
  const deadline = Date.now() + ADDRESS_BUDGET_MS;
  for (const source of ADDRESS_SOURCES) {
    if (source === "agent" && v.agentChannel !== "connected") continue;
    const left = deadline - Date.now();
    if (left < 200) break;
    let found: Array<{ mac: string; address: string }>;
    if (source === "arp" && isLocalUri(uri)) found = hostArpTable();
    else {
      const r = await virsh(uri, ["domifaddr", v.name, "--source", source], { timeoutMs: Math.min(ADDRESS_CALL_MS, left) });
      if (r.code !== 0) continue;
      found = parseDomifaddr(r.stdout);
    }
    const hit = found.find((a) => macs.includes(a.mac) && usable(a.address));
    if (hit) return { ssh: { host: hit.address, port: 22, user, identityFile }, from: source };
  }
  return null;
}

export async function readDomain(uri: string, name: string): Promise<LibvirtDomain | null> {
  const [st, xml] = await Promise.all([virsh(uri, ["domstate", name], { timeoutMs: 10_000 }), virsh(uri, ["dumpxml", name], { timeoutMs: 10_000 })]);
  if (st.code !== 0 || xml.code !== 0) return null;
  const view = parseDomain(xml.stdout);
  const libvirtState = st.stdout.trim();
  const state = toState(libvirtState);
  const pid = state === "running" && uri === SYSTEM_URI ? readPidFile(`/run/libvirt/qemu/${view.name}.pid`) : null;
  const type = /<domain[^>]*\stype=['"](\w+)['"]/.exec(xml.stdout)?.[1] ?? null;
  const ssh = state === "running" ? await sshOf(uri, view, xml.stdout) : null;
  return {
    uri,
    hmName: hmNameFor(view.name, uri),
    view,
    state,
    libvirtState,
    pid: pid && isAlive(pid) ? pid : null,
    accel: type === "kvm" ? "kvm" : type === "qemu" ? "tcg" : type,
    ssh: ssh?.ssh ?? null,
    sshFrom: ssh?.from ?? null,
  };
}

export async function listDomains(uris = libvirtUris()): Promise<LibvirtDomain[]> {
  const out: LibvirtDomain[] = [];
  for (const uri of uris) {
    const r = await virsh(uri, ["list", "--all", "--name"], { timeoutMs: 10_000 }).catch(() => null);
    if (!r || r.code !== 0) continue; // no libvirtd there (or no virsh): nothing to list
    const names = r.stdout
      .split("\n")
      .map((s) => s.trim())
      .filter(Boolean);
    out.push(...(await Promise.all(names.map((n) => readDomain(uri, n)))).filter((d): d is LibvirtDomain => d !== null));
  }
  return out;
}

/** The domain `hmName` stands for: its registration first, else discovery. */
export async function domainByHmName(hmName: string): Promise<LibvirtDomain | null> {
  const reg = registeredAs(hmName);
  if (reg?.external === "libvirt" && reg.libvirt) {
    const d = await readDomain(reg.libvirt.uri, reg.libvirt.domain);
    if (d) return { ...d, hmName };
  }
  return (await listDomains()).find((d) => d.hmName === hmName) ?? null;
}

export function discoveredVm(d: LibvirtDomain, mounts = 0): DiscoveredVm {
  const running = d.state === "running";
  const ours = d.view.filesystems.filter((f) => f.alias?.startsWith("ua-hm")).length;
  return {
    name: d.hmName,
    driver: "libvirt",
    state: d.state,
    pid: d.pid,
    accel: d.accel,
    ssh: running ? d.ssh : null,
    slots: { total: running ? d.view.freeRootPorts.length + ours : d.view.rootPorts.length, used: running ? ours : 0 },
    transports: running ? libvirtTransports(d.view, d.uri, !!d.ssh) : [],
    mounts,
  };
}

/** instance.json for a running domain: hotmount attaches to it, never boots it. */
export function libvirtInstanceConfig(d: LibvirtDomain): InstanceConfig {
  const login = sshLogin(d.uri, d.view.name);
  return {
    name: d.hmName,
    driver: "libvirt",
    external: "libvirt",
    libvirt: { uri: d.uri, domain: d.view.name, uuid: d.view.uuid },
    memoryMiB: Math.max(128, d.view.memoryMiB || 128),
    cpus: Math.max(1, d.view.cpus),
    slots: Math.min(32, d.view.rootPorts.length),
    ninePSlots: 0,
    kernel: "",
    append: "",
    accel: d.accel === "kvm" || d.accel === "tcg" ? d.accel : "auto",
    ssh: d.ssh ?? { host: "", port: 0, user: login.user, identityFile: login.identityFile },
    staticMounts: [],
    persistentMounts: [],
  };
}
