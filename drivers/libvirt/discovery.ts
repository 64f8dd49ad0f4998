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

/** The guest's SSH: a user-mode hostfwd to port 22, else an address the guest agent or a DHCP lease reports. */
async function sshOf(uri: string, v: DomainView): Promise<SshInfo | null> {
  const { user, identityFile } = sshLogin(uri, v.name);
  if (v.sshForward) return { host: v.sshForward.host, port: v.sshForward.port, user, identityFile };
  for (const source of v.agentChannel === "connected" ? ["agent", "lease"] : ["lease"]) {
    const r = await virsh(uri, ["domifaddr", v.name, "--source", source], { timeoutMs: 5000 });
    if (r.code !== 0) continue;
    for (const line of r.stdout.split("\n")) {
      const m = /\bipv4\s+(\d+\.\d+\.\d+\.\d+)\//.exec(line);
      if (m && !m[1]!.startsWith("127.")) return { host: m[1]!, port: 22, user, identityFile };
    }
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
  return {
    uri,
    hmName: hmNameFor(view.name, uri),
    view,
    state,
    libvirtState,
    pid: pid && isAlive(pid) ? pid : null,
    accel: type === "kvm" ? "kvm" : type === "qemu" ? "tcg" : type,
    ssh: state === "running" ? await sshOf(uri, view) : null,
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
