// What goes into the demo guest, as data. Adding a program to the guest is one line in
// GUEST_PACKAGES: with `libs: true` its shared-library packages are found and added at build time,
// and the build checks that every ELF program's libraries are really in the image.
import { createHash } from "node:crypto";
import { ARCH_PROFILES, type GuestArch } from "./arch.ts";
import { GUEST_MODULES } from "./contract.ts";
import { GUEST_DIRS, GUEST_SYMLINKS, guestFiles } from "./demo-files.ts";

/** Bump when the build steps change in a way the data below does not show. */
export const RECIPE_VERSION = 1;

/** A metapackage: resolved at build time to the current ABI's linux-image-<abi>-amd64 (x86_64). */
export const KERNEL_PACKAGE = ARCH_PROFILES.x86_64.kernelPackage;

export function kernelPackage(arch: GuestArch = "x86_64"): string {
  return ARCH_PROFILES[arch].kernelPackage;
}

export interface GuestPackage {
  /** Debian package name. */
  name: string;
  /** Follow Depends/Pre-Depends to library packages (lib*, zlib1g), recursively. */
  libs?: boolean;
  /** Why the guest needs it. */
  why: string;
}

export const GUEST_PACKAGES: readonly GuestPackage[] = [
  { name: "busybox-static", why: "init, sh, mount, ip, modprobe, poweroff ... (static, and the host uses its cpio and depmod)" },
  { name: "dropbear-bin", libs: true, why: "the SSH server the host logs into" },
  // sshfs runs in passive mode (sftp over the SSH channel), so its openssh-client dependency is not needed.
  { name: "sshfs", libs: true, why: "reverse-sshfs mounts" },
  { name: "fuse3", libs: true, why: "fusermount3, which sshfs uses to unmount" },
  { name: "libfuse3-3", libs: true, why: "sshfs's FUSE library" },
  { name: "psmisc", libs: true, why: "fuser -m / -k -m for busy mounts (Debian's busybox-static has no fuser)" },
  { name: "inotify-tools", libs: true, why: "inotifywait: the watcher test/vm/watch.test.ts checks host events against (a real one no one here wrote)" },
  { name: "qemu-guest-agent", libs: true, why: "guest commands as argv arrays over virtio-serial (guest-exec), no shell; SSH is the fallback" },
];

/** Depends that match this are followed for `libs: true` packages; everything else is left out. */
export const LIB_PACKAGE_RE = /^(lib[a-z0-9].*|zlib1g)$/;
/** Library packages never wanted even when depended on (tools, data, docs). */
export const LIB_PACKAGE_SKIP_RE = /-(bin|data|common|doc|dev)$/;

/** Removed from the extracted packages: documentation and data the guest never reads. */
export const PRUNE_PATHS = [
  "usr/share/doc",
  "usr/share/man",
  "usr/share/info",
  "usr/share/locale",
  "usr/share/lintian",
  "usr/share/bug",
  "usr/share/bash-completion",
  "usr/share/zsh",
  "usr/share/i18n",
  // glibc's iconv modules (several MB): the guest's programs only need UTF-8.
  "usr/lib/x86_64-linux-gnu/gconv",
  // The kernel package is unpacked elsewhere; this keeps stray boot files out of the image.
  "boot",
];

/** PRUNE_PATHS with the library directory of `arch` (the list above is x86_64's). */
export function prunePaths(arch: GuestArch = "x86_64"): string[] {
  return PRUNE_PATHS.map((p) => p.replace(ARCH_PROFILES.x86_64.triplet, ARCH_PROFILES[arch].triplet));
}

/**
 * Everything that decides the image's content, hashed into the cache key. The x86_64 recipe has no
 * `arch` key, so its key (and every cached x86_64 image) is what it was before aarch64 existed.
 */
export function recipe(arch: GuestArch = "x86_64"): Record<string, unknown> {
  return {
    version: RECIPE_VERSION,
    ...(arch === "x86_64" ? {} : { arch }),
    kernel: kernelPackage(arch),
    packages: GUEST_PACKAGES.map((p) => ({ name: p.name, libs: !!p.libs })),
    libRe: LIB_PACKAGE_RE.source,
    libSkipRe: LIB_PACKAGE_SKIP_RE.source,
    modules: GUEST_MODULES,
    prune: prunePaths(arch),
    files: guestFiles(),
    dirs: GUEST_DIRS,
    symlinks: GUEST_SYMLINKS,
  };
}

/** The cache key: sha256 (hex) over the recipe. */
export function recipeKey(arch: GuestArch = "x86_64"): string {
  return createHash("sha256")
    .update(JSON.stringify(recipe(arch)))
    .digest("hex");
}
