// Reading and writing the few parts of a libvirt domain XML hotmount cares about: shared memory
// backing, pcie-root-port controllers and what sits behind them, the guest-agent channel, our
// virtiofs <filesystem> devices (alias ua-<mount id>), and a user-mode hostfwd to the guest's
// SSH. libvirt writes this XML itself (`virsh dumpxml`), in one regular shape, so small element
// scanners suffice; values are entity-decoded, and everything we write is escaped.

export interface DomainFs {
  alias: string | null;
  tag: string;
  source: string;
  driver: string;
  /** The PCI bus it sits on (a root port's index), when libvirt gave it an address. */
  bus: number | null;
}

export interface DomainView {
  name: string;
  uuid: string;
  /** <memoryBacking> with <access mode='shared'/> (and a memfd or file source): virtiofs can map guest RAM. */
  sharedMemory: boolean;
  /** Indexes of the pcie-root-port controllers (each is the bus number behind it). */
  rootPorts: number[];
  /** Root ports with no device behind them: each can take one hot-plugged device. */
  freeRootPorts: number[];
  /** The qemu-guest-agent channel: absent, or its state as libvirt sees it (connected/disconnected/unknown). */
  agentChannel: "absent" | "connected" | "disconnected" | "unknown";
  filesystems: DomainFs[];
  /** A user-mode network's hostfwd to guest port 22 (qemu:commandline), as host and port. */
  sshForward: { host: string; port: number } | null;
  machine: string;
  memoryMiB: number;
  cpus: number;
}

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", apos: "'", quot: '"' };

export function xmlDecode(s: string): string {
  return s.replace(/&(amp|lt|gt|apos|quot|#(\d+)|#x([0-9a-fA-F]+));/g, (_, n: string, d?: string, h?: string) =>
    d ? String.fromCodePoint(Number(d)) : h ? String.fromCodePoint(Number.parseInt(h, 16)) : ENTITIES[n]!,
  );
}

export function xmlEscape(s: string): string {
  return s.replace(/[&<>'"]/g, (c) => `&${Object.entries(ENTITIES).find(([, v]) => v === c)![0]};`);
}

export function attrs(tag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of tag.matchAll(/([A-Za-z_][\w:.-]*)=(['"])(.*?)\2/gs)) out[m[1]!] = xmlDecode(m[3]!);
  return out;
}

/** Every <name ...>...</name> or <name .../> element, as its full text (no nesting of the same name). */
export function elements(xml: string, name: string): string[] {
  const re = new RegExp(`<${name}(?=[\\s/>])[^>]*?(?:/>|>[\\s\\S]*?</${name}>)`, "g");
  return xml.match(re) ?? [];
}

function openTag(el: string): string {
  return /^<[^>]*>/.exec(el)?.[0] ?? "";
}

function inner(xml: string, name: string): string | null {
  const m = new RegExp(`<${name}(?:\\s[^>]*)?>([\\s\\S]*?)</${name}>`).exec(xml);
  return m ? xmlDecode(m[1]!.trim()) : null;
}

function pciBus(el: string): number | null {
  for (const a of elements(el, "address")) {
    const at = attrs(a);
    if (at.type === "pci" && at.bus !== undefined) return Number.parseInt(at.bus, at.bus.startsWith("0x") ? 16 : 10);
  }
  return null;
}

export function parseFilesystems(xml: string): DomainFs[] {
  return elements(xml, "filesystem").map((el) => ({
    alias: attrs(openTag(elements(el, "alias")[0] ?? "")).name ?? null,
    tag: attrs(elements(el, "target")[0] ?? "").dir ?? "",
    source: attrs(elements(el, "source")[0] ?? "").dir ?? "",
    driver: attrs(elements(el, "driver")[0] ?? "").type ?? "path",
    bus: pciBus(el),
  }));
}

function hostfwdSsh(xml: string): { host: string; port: number } | null {
  for (const a of elements(xml, "qemu:arg")) {
    const v = attrs(a).value ?? "";
    const m = /hostfwd=tcp:([\d.]*):(\d+)-[\d.]*:22(?:,|$)/.exec(v);
    if (m) return { host: m[1] || "127.0.0.1", port: Number(m[2]) };
  }
  return null;
}

export function parseDomain(xml: string): DomainView {
  const devices = /<devices>([\s\S]*)<\/devices>/.exec(xml)?.[1] ?? "";
  const mb = /<memoryBacking>([\s\S]*?)<\/memoryBacking>/.exec(xml)?.[1] ?? "";
  const sharedMemory = elements(mb, "access").some((a) => attrs(a).mode === "shared");
  const controllers = elements(devices, "controller");
  const rootPorts = controllers
    .map(openTag)
    .map(attrs)
    .filter((a) => a.type === "pci" && a.model === "pcie-root-port")
    .map((a) => Number(a.index));
  // Anything with a PCI address on bus N (N > 0) occupies root port N, controllers too (a
  // virtio-serial or USB controller behind a root port); the root ports themselves sit on bus 0.
  const used = new Set<number>();
  for (const a of elements(devices, "address")) {
    const at = attrs(a);
    if (at.type === "pci" && at.bus) {
      const b = Number.parseInt(at.bus, at.bus.startsWith("0x") ? 16 : 10);
      if (b > 0) used.add(b);
    }
  }
  const channel = elements(devices, "channel").find((c) => elements(c, "target").some((t) => attrs(t).name === "org.qemu.guest_agent.0"));
  const chState = channel ? (attrs(elements(channel, "target").find((t) => attrs(t).name === "org.qemu.guest_agent.0")!).state ?? "unknown") : null;
  const memKiB = (() => {
    const m = /<memory(?:\s+unit=['"](\w+)['"])?[^>]*>(\d+)<\/memory>/.exec(xml);
    if (!m) return 0;
    const n = Number(m[2]);
    const unit = (m[1] ?? "KiB").toLowerCase();
    return unit === "mib" || unit === "m" ? n * 1024 : unit === "gib" || unit === "g" ? n * 1024 * 1024 : unit === "b" || unit === "bytes" ? n / 1024 : n;
  })();
  return {
    name: inner(xml, "name") ?? "",
    uuid: inner(xml, "uuid") ?? "",
    sharedMemory,
    rootPorts,
    freeRootPorts: rootPorts.filter((i) => !used.has(i)),
    agentChannel: !channel ? "absent" : chState === "connected" ? "connected" : chState === "disconnected" ? "disconnected" : "unknown",
    filesystems: parseFilesystems(devices),
    sshForward: hostfwdSsh(xml),
    machine: attrs(elements(xml, "type")[0] ?? "").machine ?? "",
    memoryMiB: Math.round(memKiB / 1024),
    cpus: Number(inner(xml, "vcpu") ?? "1") || 1,
  };
}

/** The domain's guest architecture (<os><type arch=...>), "" when it names none. */
export function domainArch(xml: string): string {
  return attrs(elements(xml, "type")[0] ?? "").arch ?? "";
}

/** Where pcie-root-port `index` itself sits on the root bus (its slot and function), or null. */
export function rootPortAddress(xml: string, index: number): { slot: number; function: number } | null {
  for (const el of elements(/<devices>([\s\S]*)<\/devices>/.exec(xml)?.[1] ?? "", "controller")) {
    const a = attrs(openTag(el));
    if (a.type !== "pci" || a.model !== "pcie-root-port" || Number(a.index) !== index) continue;
    const at = attrs(elements(el, "address")[0] ?? "");
    if (at.type !== "pci" || at.slot === undefined) return null;
    const num = (v: string | undefined) => (v === undefined ? 0 : Number.parseInt(v, v.startsWith("0x") ? 16 : 10));
    return num(at.bus) === 0 ? { slot: num(at.slot), function: num(at.function) } : null;
  }
  return null;
}

/** libvirt keeps user aliases that start with "ua-": ours are ua-<mount id>. */
export const fsAlias = (id: string) => `ua-${id}`;
export const idOfAlias = (alias: string | null) => (alias?.startsWith("ua-") ? alias.slice(3) : null);

type IdRange = { start: number; target: number; count: number };

/**
 * The <filesystem> hotmount attaches: virtiofs, our tag and alias, and our virtiofsd wrapper.
 * In a session domain, `idmap` is the user namespace the unprivileged virtiofsd runs in.
 */
export function virtiofsXml(o: { id: string; source: string; binary: string; idmap?: { uid: IdRange[]; gid: IdRange[] } }): string {
  const range = (kind: string, r: IdRange) => `    <${kind} start='${r.start}' target='${r.target}' count='${r.count}'/>`;
  return [
    "<filesystem type='mount' accessmode='passthrough'>",
    "  <driver type='virtiofs'/>",
    `  <binary path='${xmlEscape(o.binary)}'/>`,
    `  <source dir='${xmlEscape(o.source)}'/>`,
    `  <target dir='${xmlEscape(o.id)}'/>`,
    ...(o.idmap ? ["  <idmap>", ...o.idmap.uid.map((r) => range("uid", r)), ...o.idmap.gid.map((r) => range("gid", r)), "  </idmap>"] : []),
    `  <alias name='${xmlEscape(fsAlias(o.id))}'/>`,
    "</filesystem>",
    "",
  ].join("\n");
}
