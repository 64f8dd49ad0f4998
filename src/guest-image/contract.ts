// The contract between the demo guest's /init and the host side (QEMU driver, agent, tests).
// Everything the host relies on about the guest lives here, so a change to the guest that
// breaks the host is a change to this file.
import { HotmountError } from "../core/errors.ts";
import { ARCH_PROFILES, type GuestArch } from "./arch.ts";

/** Printed alone on a line on the serial console once dropbear listens (or at once in probe mode). */
export const READY_MARKER = "HOTMOUNT-GUEST-READY";

/** The virtio-serial port qemu-guest-agent listens on; the QEMU runner names its channel so. */
export const QGA_PORT_NAME = "org.qemu.guest_agent.0";

/** The user the host logs in as over SSH. */
export const GUEST_USER = "root";
export const GUEST_HOME = "/root";
export const GUEST_HOSTNAME = "hotmount";
export const GUEST_SSH_PORT = 22;

/** QEMU user networking (slirp) defaults: the guest uses them statically (no DHCP client needed). */
export const GUEST_IP = "10.0.2.15";
export const GUEST_PREFIX_LEN = 24;
export const GUEST_GATEWAY = "10.0.2.2";
export const GUEST_DNS = "10.0.2.3";
export const GUEST_NET_DEVICE = "eth0";

/**
 * Kernel modules loaded at boot, in this order. There is no udev in the guest, so every driver a
 * hot-plugged device may need must be loaded before the device appears. Dependencies are pulled in
 * at build time from each module's `depends=`; names use the kernel's spelling (`_`, not `-`).
 */
export const GUEST_MODULES = [
  "virtio_pci",
  "virtio_net",
  "virtio_rng",
  "virtio_console",
  "virtio_blk",
  "fuse",
  "virtiofs",
  "9pnet_virtio",
  "9p",
  "vmw_vsock_virtio_transport",
] as const;

/** Kernel command-line keys /init reads. */
export const CMDLINE_SSHKEY = "hotmount.sshkey";
export const CMDLINE_KEYTYPE = "hotmount.keytype";
export const CMDLINE_PROBE = "hotmount.probe";

/** Base of the append string: serial console, reboot (so QEMU -no-reboot exits) on panic, few kernel messages. */
export const BASE_APPEND = "console=ttyS0 panic=-1 quiet";

/** BASE_APPEND with the architecture's serial console (ttyAMA0, the PL011, on aarch64 virt). */
export function baseAppend(arch: GuestArch = "x86_64"): string {
  return BASE_APPEND.replace("console=ttyS0", `console=${ARCH_PROFILES[arch].console}`);
}

/** OpenSSH key type names: ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256, sk-...@openssh.com. */
const SSH_KEY_TYPE_RE = /^(ssh-[a-z0-9]+|ecdsa-sha2-[a-z0-9]+|sk-[a-z0-9-]+@openssh\.com|[a-z0-9-]+-cert-v01@openssh\.com)$/;

/**
 * The full `-append` string for the demo guest. The key travels on the command line (not in the
 * image) so one cached image serves every HOTMOUNT_HOME. Only type and base64 blob are passed:
 * the comment may contain spaces, which the kernel would split.
 */
export function demoGuestAppend(publicKeyLine: string, extra?: string, arch: GuestArch = "x86_64"): string {
  const [type, blob] = publicKeyLine.trim().split(/\s+/);
  if (!type || !blob || !SSH_KEY_TYPE_RE.test(type) || !/^[A-Za-z0-9+/]+={0,2}$/.test(blob)) {
    throw new HotmountError("INVALID_ARGUMENT", "not an OpenSSH public key line", {
      hint: 'Expected "<type> <base64> [comment]", e.g. the contents of id_ed25519.pub.',
    });
  }
  const parts = [baseAppend(arch), `${CMDLINE_SSHKEY}=${blob}`, `${CMDLINE_KEYTYPE}=${type}`];
  if (extra?.trim()) parts.push(extra.trim());
  return parts.join(" ");
}

/** The probe variant: /init prints READY_MARKER and powers off at once (bounded accelerator probe). */
export function probeAppend(extra?: string): string {
  return [BASE_APPEND, `${CMDLINE_PROBE}=1`, extra?.trim()].filter(Boolean).join(" ");
}
