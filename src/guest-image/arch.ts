// Guest architectures the demo guest is built for, and what differs between them: the Debian
// architecture its packages come from, the kernel metapackage, the serial console's name and the
// multiarch library directory. Everything else in the image is the same for both.
import { HotmountError } from "../core/errors.ts";

export type GuestArch = "x86_64" | "aarch64";
export const GUEST_ARCHES: readonly GuestArch[] = ["x86_64", "aarch64"];

export interface ArchProfile {
  /** Debian's name for it (apt, dpkg). */
  debArch: string;
  /** A metapackage: resolved at build time to the current ABI's linux-image-<abi>-<arch>. */
  kernelPackage: string;
  /** The serial console the host reads: the 8250 UART on q35, the PL011 on virt. */
  console: string;
  /** The multiarch triplet of /usr/lib/<triplet>. */
  triplet: string;
}

export const ARCH_PROFILES: Record<GuestArch, ArchProfile> = {
  x86_64: { debArch: "amd64", kernelPackage: "linux-image-amd64", console: "ttyS0", triplet: "x86_64-linux-gnu" },
  aarch64: { debArch: "arm64", kernelPackage: "linux-image-arm64", console: "ttyAMA0", triplet: "aarch64-linux-gnu" },
};

/** The host's own architecture as a guest architecture (the default for `vm start`). */
export function hostGuestArch(arch: string = process.arch): GuestArch {
  if (arch === "x64") return "x86_64";
  if (arch === "arm64") return "aarch64";
  throw new HotmountError("UNSUPPORTED", `no demo guest for a ${arch} host`, { hint: "Pass --arch x86_64 or --arch aarch64." });
}

export function parseGuestArch(v: string): GuestArch {
  const s = v === "amd64" || v === "x64" ? "x86_64" : v === "arm64" ? "aarch64" : v;
  if (s === "x86_64" || s === "aarch64") return s;
  throw new HotmountError("INVALID_ARGUMENT", `unknown guest architecture "${v}"`, { hint: "Use x86_64 (amd64) or aarch64 (arm64)." });
}
