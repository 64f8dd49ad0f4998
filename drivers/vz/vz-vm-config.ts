// InstanceConfig -> the JSON the dylib builds a VM from (VzVmConfig in ffi/vz.ts). Pure, so the
// mapping is tested on Linux even though the VM it describes only exists on a Mac.
import { createHash } from "node:crypto";
import type { VzVmConfig } from "../../ffi/vz.ts";
import type { InstanceConfig } from "../../src/core/instance-config.ts";

export interface VmConfigPaths {
  placeholder: string;
  serialLog: string;
  /** Raw disk images (VZ reads raw only, not qcow2); the InstanceConfig has none yet. */
  disks?: { path: string; readOnly: boolean }[];
}

/**
 * A stable, locally administered unicast MAC per instance name: the guest keeps the same DHCP
 * lease across restarts, and the driver finds the guest's address by it.
 */
export function macForInstance(name: string): string {
  const b = createHash("sha256").update(`hotmount-vz:${name}`).digest();
  const bytes = [((b[0] ?? 0) & 0xfc) | 0x02, ...b.subarray(1, 6)];
  return bytes.map((x) => x.toString(16).padStart(2, "0")).join(":");
}

/**
 * VZ gives the guest a virtio console (hvc0), not a UART: append console=hvc0 so the serial log
 * shows the boot. The last console= wins /dev/console, so a QEMU-style ttyS0 earlier is harmless.
 */
export function vzCmdline(append: string): string {
  const a = append.trim();
  return /(^|\s)console=hvc0(\s|$)/.test(a) ? a : `${a} console=hvc0`.trim();
}

export function buildVmConfig(cfg: InstanceConfig, p: VmConfigPaths): VzVmConfig {
  return {
    cpus: cfg.cpus,
    memoryMiB: cfg.memoryMiB,
    boot: cfg.initrd
      ? { kind: "linux", kernel: cfg.kernel, initrd: cfg.initrd, cmdline: vzCmdline(cfg.append) }
      : { kind: "linux", kernel: cfg.kernel, cmdline: vzCmdline(cfg.append) },
    disks: p.disks ?? [],
    network: { mac: macForInstance(cfg.name) },
    serialLog: p.serialLog,
    vsock: true,
    placeholder: p.placeholder,
    // Each hot-plug slot is one spare virtio-fs device: VZ cannot add devices to a running VM.
    spareShares: cfg.slots,
    // Static mounts are writable, as with QEMU's virtiofsd; they use their own tags.
    staticShares: cfg.staticMounts.map((m) => ({ tag: m.tag, path: m.hostPath, readOnly: false })),
  };
}
