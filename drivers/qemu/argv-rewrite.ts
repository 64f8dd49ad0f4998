// Rewrites someone else's QEMU command line (Lima's, or a user's own) so that hotmount can
// hot-plug into the VM: spare pcie-root-ports, a second QMP monitor that hotmount owns, shared
// guest RAM for virtiofs, reserved 9p fsdevs. Pure: argv in, argv out, or a HotmountError that
// names the conflicting argument. Nothing the caller passed is removed or reordered.
import { HotmountError } from "../../src/core/errors.ts";
import { MAX_SLOTS, ninePFsdevId, rootPortId } from "./argv-build.ts";

/** QEMU options that take no value (QEMU 7.2 qemu-options.hx); every other -option takes one. */
const FLAGS = new Set([
  "S",
  "s",
  "nodefaults",
  "no-user-config",
  "nodefconfig",
  "daemonize",
  "snapshot",
  "no-reboot",
  "no-shutdown",
  "enable-kvm",
  "nographic",
  "no-hpet",
  "no-acpi",
  "version",
  "help",
  "h",
  "full-screen",
  "no-quit",
  "alt-grab",
  "ctrl-grab",
  "no-fd-bootchk",
  "win2k-hack",
  "rtc-td-hack",
  "semihosting",
  "old-param",
  "enable-sync-profile",
  "preconfig",
  "only-migratable",
  "portrait",
  "curses",
  "sdl",
  "no-frame",
  "usb",
  "enable-fips",
  "xen-attach",
  "no-kvm",
  "singlestep",
  "perfmap",
  "jitdump",
  "mem-prealloc",
  "no-kvm-irqchip",
  "no-kvm-pit",
  "no-kvm-pit-reinjection",
]);
const ALIASES: Record<string, string> = { M: "machine" };
/** Our objects and monitors, named so they cannot be mistaken for the caller's. */
export const WRAP_MEM_ID = "hm-mem";
/**
 * Machines with a PCIe root complex (pcie.0) that takes pcie-root-ports: q35 (x86_64) and virt
 * (aarch64; Lima's arm64 command line), each also as a versioned type (pc-q35-7.2, virt-7.2).
 */
export const PCIE_MACHINE_RE = /^(q35|pc-q35-[\d.]+|virt|virt-[\d.]+)$/;
/** pcie.0 slots hotmount takes, from the top down (0x1f holds q35's ICH9 functions; kept free on virt too). */
const TOP_SLOT = 0x1e;
/** Chassis numbers of our root ports: high, so they do not collide with a user's own ports. */
const FIRST_CHASSIS = 0xe0;

export interface QemuOpt {
  /** Option name without dashes, aliases resolved ("M" → "machine"); "" for a positional argument. */
  name: string;
  value: string | null;
}

export function splitQemuArgs(args: readonly string[]): QemuOpt[] {
  const out: QemuOpt[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith("-") || a === "-") {
      out.push({ name: "", value: a });
      continue;
    }
    const raw = a.replace(/^--?/, "");
    const name = ALIASES[raw] ?? raw;
    if (FLAGS.has(raw)) out.push({ name, value: null });
    else out.push({ name, value: args[++i] ?? null });
  }
  return out;
}

/** A QEMU option string: "q35,accel=kvm" → {type: "q35", props: {accel: "kvm"}}; ",," is a literal comma. */
export function parseOptString(s: string, implied = "type"): { implied: string | null; props: Record<string, string> } {
  const parts: string[] = [];
  let cur = "";
  for (let i = 0; i < s.length; i++) {
    if (s[i] === "," && s[i + 1] === ",") {
      cur += ",";
      i++;
    } else if (s[i] === ",") {
      parts.push(cur);
      cur = "";
    } else cur += s[i];
  }
  parts.push(cur);
  const props: Record<string, string> = {};
  let first: string | null = null;
  parts.forEach((p, i) => {
    const eq = p.indexOf("=");
    if (eq < 0 && i === 0) first = p;
    else if (eq < 0) props[p] = "on";
    else props[p.slice(0, eq)] = p.slice(eq + 1);
  });
  if (first === null && props[implied] !== undefined) first = props[implied]!;
  return { implied: first, props };
}

const isOn = (v: string | undefined) => v !== undefined && ["on", "yes", "true", "y"].includes(v.toLowerCase());

/** QEMU sizes: a bare number is MiB for -m; suffixes B K M G T (powers of 1024). */
export function parseSizeMiB(v: string, bareUnit: "M" | "B" = "M"): number | null {
  const m = /^(\d+(?:\.\d+)?)\s*([bkmgtBKMGT])?$/.exec(v.trim());
  if (!m) return null;
  const unit = (m[2] ?? bareUnit).toUpperCase();
  const mul: Record<string, number> = { B: 1 / (1 << 20), K: 1 / 1024, M: 1, G: 1024, T: 1 << 20 };
  const mib = Number(m[1]) * mul[unit]!;
  return Number.isFinite(mib) ? mib : null;
}

/** Calls like `qemu --version`, `-M none -accel help`, `-cpu help`: no VM starts, pass them through untouched. */
export function isQemuProbe(args: readonly string[]): boolean {
  const opts = splitQemuArgs(args);
  if (opts.length === 0) return false;
  return opts.some(
    (o) =>
      ["version", "help", "h"].includes(o.name) ||
      o.value === "help" ||
      o.value === "?" ||
      (o.name === "machine" && o.value !== null && parseOptString(o.value).implied === "none"),
  );
}

export interface WrapInput {
  /** Spare pcie-root-ports to add (1..32). */
  slots: number;
  /** Symlinks behind the reserved 9p fsdevs, one per 9p slot. */
  ninePLinks: string[];
  /** hotmount's own QMP monitor (the caller may keep its own). */
  qmpSocket: string;
  /** Whether the host has memfd (Linux). Without it, no shared RAM is added: virtiofs is then unavailable. */
  memfd: boolean;
}

export type MemoryPlan = "memfd-added" | "own-shared-backend" | "numa-shared" | "not-shared";

export interface WrapResult {
  argv: string[];
  memory: MemoryPlan;
  memoryMiB: number;
  cpus: number;
  accel: string | null;
  /** The host side of a `hostfwd=...-:22` rule, if any (how to reach the guest's sshd). */
  sshForward: { host: string; port: number } | null;
  /** pcie.0 slots our root ports took. */
  pciSlots: number[];
}

function conflict(kind: string, message: string, hint: string): HotmountError {
  return new HotmountError("UNSUPPORTED", message, { hint, details: { conflict: kind } });
}

const values = (opts: QemuOpt[], name: string) => opts.filter((o) => o.name === name && o.value !== null).map((o) => o.value!);

/** Machine type and merged properties over every -machine option (QEMU merges them, last wins). */
function machineOf(opts: QemuOpt[]): { type: string | null; props: Record<string, string> } {
  let type: string | null = null;
  const props: Record<string, string> = {};
  for (const v of values(opts, "machine")) {
    const p = parseOptString(v);
    if (p.implied) type = p.implied;
    Object.assign(props, p.props);
  }
  return { type, props };
}

function objectsById(opts: QemuOpt[]): Map<string, { type: string; props: Record<string, string> }> {
  const m = new Map<string, { type: string; props: Record<string, string> }>();
  for (const v of values(opts, "object")) {
    const p = parseOptString(v, "qom-type");
    if (p.props.id) m.set(p.props.id, { type: p.implied ?? "", props: p.props });
  }
  return m;
}

/** memfd backends share by default; file and ram backends do not. */
const backendShared = (o: { type: string; props: Record<string, string> }) =>
  o.type.startsWith("memory-backend-") && (o.props.share !== undefined ? isOn(o.props.share) : o.type === "memory-backend-memfd");

function planMemory(opts: QemuOpt[], machineProps: Record<string, string>, memfd: boolean): MemoryPlan {
  const objects = objectsById(opts);
  const own = machineProps["memory-backend"];
  if (own !== undefined) {
    const o = objects.get(own);
    if (o && backendShared(o)) return "own-shared-backend";
    throw conflict(
      "memory-backend",
      `your -machine memory-backend=${own} is not shared memory (share=on), which virtiofs needs`,
      `Remove memory-backend=${own} (and its -object) so hotmount adds a shared one, or make it shared: -object memory-backend-memfd,id=${own},size=<as -m>,share=on.`,
    );
  }
  const nodes = values(opts, "numa")
    .map((v) => parseOptString(v))
    .filter((p) => p.implied === "node");
  if (nodes.length) {
    // Lima's virtiofs pair: -object memory-backend-file,...,share=on + -numa node,memdev=virtiofs-shm.
    const bad = nodes.filter((n) => !n.props.memdev || !(objects.has(n.props.memdev) && backendShared(objects.get(n.props.memdev)!)));
    if (!bad.length) return "numa-shared";
    throw conflict(
      "numa",
      "a -numa node of your command line is not backed by shared memory (memdev=<backend with share=on>), which virtiofs needs",
      "Give every -numa node a memdev= whose -object has share=on, or drop the -numa nodes so hotmount adds shared RAM.",
    );
  }
  return memfd ? "memfd-added" : "not-shared";
}

function sshForwardOf(opts: QemuOpt[]): { host: string; port: number } | null {
  for (const v of [...values(opts, "netdev"), ...values(opts, "nic")]) {
    for (const rule of v.split(",").filter((p) => p.startsWith("hostfwd="))) {
      const m = /^hostfwd=(?:tcp)?:([^:]*):(\d+)-[^:]*:22$/.exec(rule);
      if (m) return { host: m[1] || "127.0.0.1", port: Number(m[2]) };
    }
  }
  return null;
}

/** The accelerator a QEMU command line asks for (kvm, tcg, hvf, ...), or null for QEMU's default. */
export function qemuAccel(args: readonly string[]): string | null {
  const opts = splitQemuArgs(args);
  return accelOf(opts, machineOf(opts).props);
}

function accelOf(opts: QemuOpt[], machineProps: Record<string, string>): string | null {
  if (opts.some((o) => o.name === "enable-kvm")) return "kvm";
  const a = values(opts, "accel")
    .map((v) => parseOptString(v, "accel").implied)
    .pop();
  return a ?? machineProps.accel?.split(":")[0] ?? null;
}

/** PCI devices that sit on pcie.0 with an automatic address, and the explicit addresses in use. */
function pcieUse(opts: QemuOpt[]): { explicit: Set<number>; auto: number; ids: Set<string>; chassis: Set<number> } {
  const explicit = new Set<number>();
  const ids = new Set<string>();
  const chassis = new Set<number>();
  let auto = 0;
  const pciLike =
    /(-pci|^virtio-vga|^qemu-xhci|^ich9-|^e1000|^rtl8139|^vmxnet3|^nvme|^VGA|^qxl|^bochs-display|^megasas|^lsi53c|^pvscsi|^ahci|^usb-ehci|^nec-usb-xhci|^pcie-root-port|^ioh3420|^pci-bridge|^vfio-pci|^ivshmem)/;
  for (const v of values(opts, "device")) {
    const p = parseOptString(v, "driver");
    if (p.props.id) ids.add(p.props.id);
    if (p.props.chassis) chassis.add(Number(p.props.chassis));
    const onRoot = p.props.bus === undefined || p.props.bus === "pcie.0";
    if (!onRoot) continue;
    if (p.props.addr !== undefined) explicit.add(Number.parseInt(p.props.addr.split(".")[0]!, 16));
    else if (pciLike.test(p.implied ?? "")) auto++;
  }
  // -drive if=virtio, -virtfs and -nic each add a PCI device with an automatic address.
  auto += values(opts, "drive").filter((v) => parseOptString(v, "file").props.if === "virtio").length;
  auto += values(opts, "virtfs").length + values(opts, "nic").length;
  for (const v of values(opts, "fsdev")) {
    const id = parseOptString(v, "fsdriver").props.id;
    if (id) ids.add(id);
  }
  return { explicit, auto, ids, chassis };
}

export function wrapQemuArgv(argv: readonly string[], input: WrapInput): WrapResult {
  const [qemu, ...args] = argv;
  if (!qemu)
    throw new HotmountError("USAGE", "no QEMU command line to wrap", { hint: "Example: hotmount run dev -- qemu-system-x86_64 -machine q35 -m 1G ..." });
  if (!Number.isInteger(input.slots) || input.slots < 1 || input.slots > MAX_SLOTS) {
    throw new HotmountError("INVALID_ARGUMENT", `--slots must be between 1 and ${MAX_SLOTS}, not ${input.slots}`, {
      hint: "Each slot is one spare pcie-root-port: one concurrent virtiofs or 9p mount.",
    });
  }
  const opts = splitQemuArgs(args);
  const machine = machineOf(opts);
  if (!machine.type || !PCIE_MACHINE_RE.test(machine.type)) {
    const arm = /aarch64|arm/.test(qemu.split("/").pop() ?? "");
    const what = machine.type
      ? `-machine ${machine.type}`
      : arm
        ? "no -machine (qemu-system-aarch64 has no default machine)"
        : "no -machine, so QEMU's default (pc, i440fx)";
    throw conflict(
      "machine",
      `hotmount hot-plugs onto PCIe root ports, which need the q35 machine (x86_64) or the virt machine (aarch64); your command line has ${what}`,
      arm ? "Add -machine virt." : "Add -machine q35 (x86_64). Guests usually boot unchanged, but disk and NIC PCI addresses differ from i440fx.",
    );
  }
  if (opts.some((o) => o.name === "daemonize")) {
    throw conflict(
      "daemonize",
      "-daemonize makes QEMU fork away from the process hotmount watches",
      "Drop -daemonize; run the wrapper in the background instead.",
    );
  }
  const memory = planMemory(opts, machine.props, input.memfd);
  const memArg = values(opts, "m").pop();
  const memStr = memArg === undefined ? "128" : (parseOptString(memArg, "size").implied ?? "");
  const memoryMiB = parseSizeMiB(memStr);
  if (memoryMiB === null || !Number.isInteger(memoryMiB) || memoryMiB < 1) {
    throw conflict("memory-size", `cannot read the RAM size from -m ${memArg}`, "Write -m as whole MiB, e.g. -m 2048 or -m 2G.");
  }

  const use = pcieUse(opts);
  const objects = objectsById(opts);
  const clash = [
    ...Array.from({ length: input.slots }, (_, i) => rootPortId(i)),
    ...input.ninePLinks.flatMap((_, n) => [ninePFsdevId(n, true), ninePFsdevId(n, false)]),
    WRAP_MEM_ID,
  ].filter((id) => use.ids.has(id) || objects.has(id));
  if (clash.length) {
    throw conflict(
      "ids",
      `your command line already uses the id(s) ${clash.join(", ")}, which hotmount needs for its own devices`,
      "Rename those devices, fsdevs or objects.",
    );
  }
  const chassisClash = Array.from({ length: input.slots }, (_, i) => FIRST_CHASSIS + i).filter((c) => use.chassis.has(c));
  if (chassisClash.length) {
    throw conflict(
      "chassis",
      `your PCIe ports use chassis number(s) ${chassisClash.join(", ")}, which hotmount's root ports need`,
      `Use chassis numbers below ${FIRST_CHASSIS}.`,
    );
  }
  const groups = Math.ceil(input.slots / 8);
  const pciSlots: number[] = [];
  for (let s = TOP_SLOT; s >= 1 && pciSlots.length < groups; s--) if (!use.explicit.has(s)) pciSlots.push(s);
  // Slot 0 is the host bridge; keep one spare for a default VGA or NIC that QEMU may add itself.
  const free = TOP_SLOT - use.explicit.size - use.auto - 1;
  if (pciSlots.length < groups || free < groups) {
    throw conflict(
      "pcie-slots",
      `no free PCIe bus slot on pcie.0 for ${input.slots} hot-plug root port(s): your devices already take about ${TOP_SLOT - free} of ${TOP_SLOT} slots`,
      "Pass fewer --slots (8 ports share one PCI slot), or put some of your devices behind a pcie-root-port or bridge.",
    );
  }

  for (const link of [...input.ninePLinks, input.qmpSocket]) {
    if (link.includes(","))
      throw new HotmountError("INVALID_ARGUMENT", `path may not contain a comma: ${link}`, { hint: "Choose a HOTMOUNT_HOME without commas." });
  }
  // Ours go first: devices are created in command-line order, so the caller's automatically
  // addressed devices keep the PCI addresses they would have had without us.
  const added: string[] = [];
  for (let p = 0; p < input.slots; p++) {
    const slot = pciSlots[Math.floor(p / 8)]!;
    const fn = p % 8;
    const multi = fn === 0 ? ",multifunction=on" : "";
    added.push(
      "-device",
      `pcie-root-port,id=${rootPortId(p)},bus=pcie.0,chassis=${FIRST_CHASSIS + p},slot=${p + 1},addr=0x${slot.toString(16)}.0x${fn}${multi}`,
    );
  }
  if (memory === "memfd-added") {
    added.push("-object", `memory-backend-memfd,id=${WRAP_MEM_ID},size=${memoryMiB}M,share=on`, "-machine", `memory-backend=${WRAP_MEM_ID}`);
  }
  input.ninePLinks.forEach((link, n) => {
    added.push("-fsdev", `local,id=${ninePFsdevId(n, true)},path=${link},security_model=none`);
    added.push("-fsdev", `local,id=${ninePFsdevId(n, false)},path=${link},security_model=none,readonly=on`);
  });
  added.push("-qmp", `unix:${input.qmpSocket},server=on,wait=off`);

  const smp = values(opts, "smp").pop();
  const cpus = smp ? Number(parseOptString(smp, "cpus").implied ?? parseOptString(smp, "cpus").props.cpus ?? 1) : 1;
  return {
    argv: [qemu, ...added, ...args],
    memory,
    memoryMiB,
    cpus: Number.isInteger(cpus) && cpus > 0 ? cpus : 1,
    accel: accelOf(opts, machine.props),
    sshForward: sshForwardOf(opts),
    pciSlots,
  };
}
