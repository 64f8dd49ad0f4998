// Finding the host programs the QEMU driver runs, each overridable by an env var.
import { accessSync, constants } from "node:fs";
import { HotmountError } from "../../src/core/errors.ts";

const QEMU_ARCH: Record<string, string> = { x64: "x86_64", arm64: "aarch64" };

function executable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function which(name: string): string | null {
  return Bun.which(name);
}

export function qemuBinary(): string {
  const env = process.env.HOTMOUNT_QEMU;
  if (env) return env;
  const name = `qemu-system-${QEMU_ARCH[process.arch] ?? process.arch}`;
  const p = which(name);
  if (!p) {
    throw new HotmountError("HOST_DEPENDENCY_MISSING", `${name} is not installed`, {
      hint: "Debian/Ubuntu: apt-get install qemu-system-x86 (or set HOTMOUNT_QEMU to its path).",
    });
  }
  return p;
}

export type VirtiofsdFlavour = "c" | "rust";
export interface Virtiofsd {
  path: string;
  flavour: VirtiofsdFlavour;
  version: string;
  /** The Rust virtiofsd ≥ 1.11 translates uids/gids itself (--translate-uid/--translate-gid). */
  translateIds?: boolean;
}

const VIRTIOFSD_PLACES = ["/usr/libexec/virtiofsd", "/usr/lib/qemu/virtiofsd", "/usr/lib/virtiofsd", "/usr/libexec/qemu/virtiofsd"];
let cachedVirtiofsd: Virtiofsd | null | undefined;

/** The C virtiofsd (QEMU ≤ 7.2) and the Rust one take different flags: tell them apart by --help. */
export function findVirtiofsd(): Virtiofsd | null {
  if (cachedVirtiofsd !== undefined) return cachedVirtiofsd;
  const candidates = [process.env.HOTMOUNT_VIRTIOFSD, which("virtiofsd"), ...VIRTIOFSD_PLACES].filter((p): p is string => !!p);
  const path = candidates.find(executable);
  if (!path) return (cachedVirtiofsd = null);
  const help = Bun.spawnSync([path, "--help"], { stdout: "pipe", stderr: "pipe" });
  const text = `${help.stdout.toString()}${help.stderr.toString()}`;
  const ver = Bun.spawnSync([path, "--version"], { stdout: "pipe", stderr: "pipe" });
  const version = `${ver.stdout.toString()}${ver.stderr.toString()}`.split("\n")[0]?.trim() ?? "";
  const flavour: VirtiofsdFlavour = text.includes("--shared-dir") ? "rust" : "c";
  return (cachedVirtiofsd = { path, flavour, version, translateIds: flavour === "rust" && text.includes("--translate-uid") });
}

export function requireVirtiofsd(): Virtiofsd {
  const v = findVirtiofsd();
  if (!v) {
    throw new HotmountError("HOST_DEPENDENCY_MISSING", "virtiofsd is not installed on this host", {
      hint: "Debian 12: apt-get install qemu-system-x86 (ships /usr/lib/qemu/virtiofsd); newer distros: apt-get install virtiofsd. Or use --type 9p or --type reverse-sshfs.",
    });
  }
  return v;
}

export function qemuVersion(qemu: string): string {
  const r = Bun.spawnSync([qemu, "--version"], { stdout: "pipe" });
  return (
    r.stdout
      .toString()
      .split("\n")[0]
      ?.replace(/^QEMU emulator version /, "")
      .trim() ?? "unknown"
  );
}
