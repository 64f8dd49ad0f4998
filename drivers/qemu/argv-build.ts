// The argv of a hot-plug-capable QEMU VM. Pure: every input is explicit, so it is unit-tested.
// Built from parts (machine, accelerator and CPU, size, headless, direct kernel boot) that the
// KVM probe (accel.ts) boots with too, so both start the guest the same way.
import { HotmountError } from "../../src/core/errors.ts";
import type { GuestArch } from "../../src/guest-image/arch.ts";
import { QGA_PORT_NAME } from "../../src/guest-image/contract.ts";

export const ROOT_PORT_PREFIX = "hp";
export const MAX_SLOTS = 32;
/** Root ports sit as functions 0-7 of consecutive pcie.0 slots from here, so 32 fit in 4 slots. */
const FIRST_PORT_SLOT = 0x10;

export interface StaticShare {
  /** vhost-user socket of a virtiofsd started before QEMU. */
  socket: string;
  tag: string;
  /** vhost-user-fs-pci queue-size (see virtiofs-tuning.ts); QEMU's default (128) when absent. */
  queueSize?: number;
}

export interface QemuArgvInput {
  accel: "kvm" | "tcg";
  memoryMiB: number;
  cpus: number;
  /** Spare pcie-root-ports for hot-plug (1..32). */
  slots: number;
  /** Symlinks backing the reserved 9p fsdevs, one per 9p slot. */
  ninePLinks: string[];
  kernel: string;
  initrd?: string;
  append: string;
  qmpSocket: string;
  /** Host end of the qemu-guest-agent channel (virtio-serial port org.qemu.guest_agent.0). */
  qgaSocket: string;
  serialLog: string;
  sshPort: number;
  staticShares?: StaticShare[];
  /** A qcow2 root disk (the instance's overlay), the guest's /dev/vda. */
  disk?: string;
  /** A cloud-init NoCloud seed ISO, attached as an AHCI cdrom so /dev/vda stays the root disk. */
  seed?: string;
  /** The guest's architecture: x86_64 (the default) boots on q35, aarch64 on virt. */
  arch?: GuestArch;
}

/** The machine type per guest architecture: both have a PCIe root complex named pcie.0. */
export const MACHINE_FOR_ARCH: Record<GuestArch, string> = { x86_64: "q35", aarch64: "virt" };

/**
 * The CPU model. TCG on aarch64: `max` with the cheap implementation-defined pointer-auth
 * algorithm (QEMU's architected QARMA one costs TCG a lot on every function return).
 */
export function cpuArgs(accel: "kvm" | "tcg", arch: GuestArch): string[] {
  if (accel === "kvm") return ["-accel", "kvm", "-cpu", "host"];
  return ["-accel", "tcg", "-cpu", arch === "aarch64" ? "max,pauth-impdef=on" : "max"];
}

/** The machine type of `arch` with extra properties (comma-joined). */
export function machineArgs(arch: GuestArch, props: readonly string[]): string[] {
  return ["-machine", [MACHINE_FOR_ARCH[arch], ...props].join(",")];
}

/** CPU count and RAM. */
export function sizeArgs(cpus: number, memoryMiB: number): string[] {
  return ["-smp", String(cpus), "-m", `${memoryMiB}M`];
}

/** No default devices, no window: the guest's console is its serial log. */
export function headlessArgs(): string[] {
  return ["-nodefaults", "-display", "none"];
}

/** Direct kernel boot (no firmware, no boot disk), the serial console into a file. */
export function kernelBootArgs(b: { kernel: string; initrd?: string; append: string; serialLog: string }): string[] {
  return ["-kernel", b.kernel, ...(b.initrd ? ["-initrd", b.initrd] : []), "-append", b.append, "-serial", `file:${b.serialLog}`];
}

export function rootPortId(i: number): string {
  return `${ROOT_PORT_PREFIX}${i}`;
}

/** The two fsdevs of 9p slot i: QEMU enforces read-only per fsdev, so each slot has both. */
export function ninePFsdevId(i: number, writable: boolean): string {
  return `fsd${i}${writable ? "w" : "r"}`;
}

export function buildQemuArgv(qemu: string, i: QemuArgvInput): string[] {
  if (!Number.isInteger(i.slots) || i.slots < 1 || i.slots > MAX_SLOTS) {
    throw new HotmountError("INVALID_ARGUMENT", `--slots must be between 1 and ${MAX_SLOTS}, not ${i.slots}`, {
      hint: "Each slot is one spare pcie-root-port: one concurrent virtiofs or 9p mount.",
    });
  }
  const arch = i.arch ?? "x86_64";
  if (arch === "aarch64" && i.seed) {
    throw new HotmountError("UNSUPPORTED", "a cloud-init seed cdrom is not supported on the aarch64 virt machine", {
      hint: "Boot the demo guest (no --image) with --arch aarch64.",
    });
  }
  const mem = `${i.memoryMiB}M`;
  const a: string[] = [qemu];
  a.push("-name", "hotmount,debug-threads=on");
  a.push(...cpuArgs(i.accel, arch));
  a.push(...sizeArgs(i.cpus, i.memoryMiB));
  // virtiofs needs guest RAM the virtiofsd can map: a shared memfd sized exactly to -m.
  a.push("-object", `memory-backend-memfd,id=mem,size=${mem},share=on`);
  // virt: direct kernel boot, no firmware: QEMU hands the kernel a device tree (docs/arm.md).
  a.push(...machineArgs(arch, ["memory-backend=mem"]));
  a.push(...headlessArgs(), "-no-user-config");
  a.push(...kernelBootArgs(i));
  a.push("-qmp", `unix:${i.qmpSocket},server=on,wait=off`);
  a.push("-netdev", `user,id=net0,hostfwd=tcp:127.0.0.1:${i.sshPort}-:22`);
  a.push("-device", "virtio-net-pci,netdev=net0");
  a.push("-device", "virtio-rng-pci");
  for (const [what, p] of [
    ["disk", i.disk],
    ["seed", i.seed],
  ] as const) {
    if (p?.includes(","))
      throw new HotmountError("INVALID_ARGUMENT", `the ${what} image path may not contain a comma: ${p}`, { hint: "Choose a HOTMOUNT_HOME without commas." });
  }
  if (i.disk) a.push("-drive", `file=${i.disk},format=qcow2,if=none,id=disk0,discard=unmap`, "-device", "virtio-blk-pci,drive=disk0");
  if (i.seed) a.push("-drive", `file=${i.seed},format=raw,if=none,id=seed0,media=cdrom,readonly=on`, "-device", "ide-cd,bus=ide.0,drive=seed0");
  // qemu-guest-agent's channel: guest commands as argv arrays, no shell (SSH is the fallback).
  a.push("-device", "virtio-serial-pci,id=vser0");
  a.push("-chardev", `socket,id=qga0,path=${i.qgaSocket},server=on,wait=off`);
  a.push("-device", `virtserialport,bus=vser0.0,chardev=qga0,name=${QGA_PORT_NAME}`);
  // pcie.0 itself cannot hot-plug: one spare root port per concurrent device.
  for (let p = 0; p < i.slots; p++) {
    const slot = FIRST_PORT_SLOT + Math.floor(p / 8);
    const fn = p % 8;
    const addr = `0x${slot.toString(16)}.0x${fn}`;
    const multi = fn === 0 ? ",multifunction=on" : "";
    a.push("-device", `pcie-root-port,id=${rootPortId(p)},bus=pcie.0,chassis=${p + 1},slot=${p + 1},addr=${addr}${multi}`);
  }
  i.ninePLinks.forEach((link, n) => {
    if (link.includes(","))
      throw new HotmountError("INVALID_ARGUMENT", `9p slot path may not contain a comma: ${link}`, { hint: "Choose a HOTMOUNT_HOME without commas." });
    a.push("-fsdev", `local,id=${ninePFsdevId(n, true)},path=${link},security_model=none`);
    a.push("-fsdev", `local,id=${ninePFsdevId(n, false)},path=${link},security_model=none,readonly=on`);
  });
  (i.staticShares ?? []).forEach((s, n) => {
    a.push("-chardev", `socket,id=static${n},path=${s.socket}`);
    a.push("-device", `vhost-user-fs-pci,chardev=static${n},tag=${s.tag}${s.queueSize ? `,queue-size=${s.queueSize}` : ""}`);
  });
  return a;
}
