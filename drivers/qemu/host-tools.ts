// Finding the host programs the QEMU driver runs, each overridable by an env var.
import { accessSync, constants, realpathSync } from "node:fs";
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

/**
 * The qemu-system binary for a guest architecture (default: the host's). HOTMOUNT_QEMU wins for
 * the host's architecture; HOTMOUNT_QEMU_AARCH64 / HOTMOUNT_QEMU_X86_64 name one per architecture.
 */
export function qemuBinary(guestArch?: string): string {
  const hostArch = QEMU_ARCH[process.arch] ?? process.arch;
  const arch = guestArch ?? hostArch;
  const perArch = process.env[`HOTMOUNT_QEMU_${arch.toUpperCase()}`];
  if (perArch) return perArch;
  const env = process.env.HOTMOUNT_QEMU;
  if (env && arch === hostArch) return env;
  const name = `qemu-system-${arch}`;
  const p = which(name);
  if (!p) {
    const pkg = arch === "aarch64" ? "qemu-system-arm" : "qemu-system-x86";
    throw new HotmountError("HOST_DEPENDENCY_MISSING", `${name} is not installed`, {
      hint: `Debian/Ubuntu: apt-get install ${pkg} (or set HOTMOUNT_QEMU_${arch.toUpperCase()} to its path).`,
    });
  }
  return p;
}

/**
 * As root, QEMU runs without CAP_MKNOD (dropped from its bounding and inheritable sets by
 * setpriv, so exec gives it none): a 9p share passes the guest's mknod through as the host's
 * (security_model=none), and QEMU 10 then makes real device nodes, /dev/mem included, in the
 * host folder. Fifos and sockets need no capability and still work. Not root: nothing to drop.
 */
export function qemuLaunchArgv(argv: string[], uid = process.getuid?.() ?? -1): string[] {
  if (process.platform !== "linux" || uid !== 0) return argv;
  const setpriv = which("setpriv");
  if (!setpriv) {
    throw new HotmountError("HOST_DEPENDENCY_MISSING", "setpriv is not installed: QEMU would keep root's power to make device nodes", {
      hint: "Debian/Ubuntu: apt-get install util-linux (setpriv), or run hotmount as a non-root user.",
    });
  }
  return [setpriv, "--inh-caps=-mknod", "--bounding-set=-mknod", "--", ...argv];
}

export type VirtiofsdFlavour = "c" | "rust";
export interface Virtiofsd {
  path: string;
  flavour: VirtiofsdFlavour;
  version: string;
  /** The Rust virtiofsd ≥ 1.11 translates uids/gids itself (--translate-uid/--translate-gid). */
  translateIds?: boolean;
  /** Why this one was taken, for doctor. */
  why?: string;
}

const VIRTIOFSD_PLACES = ["/usr/libexec/virtiofsd", "/usr/lib/qemu/virtiofsd", "/usr/lib/virtiofsd", "/usr/libexec/qemu/virtiofsd"];
let cachedVirtiofsd: Virtiofsd | null | undefined;

/** The C virtiofsd (QEMU ≤ 7.2) and the Rust one take different flags: tell them apart by --help. */
export function probeVirtiofsd(path: string): Virtiofsd {
  const help = Bun.spawnSync([path, "--help"], { stdout: "pipe", stderr: "pipe" });
  const text = `${help.stdout.toString()}${help.stderr.toString()}`;
  const ver = Bun.spawnSync([path, "--version"], { stdout: "pipe", stderr: "pipe" });
  const version = `${ver.stdout.toString()}${ver.stderr.toString()}`.split("\n")[0]?.trim() ?? "";
  const flavour: VirtiofsdFlavour = text.includes("--shared-dir") ? "rust" : "c";
  return { path, flavour, version, translateIds: flavour === "rust" && text.includes("--translate-uid") };
}

const RUST_FIRST =
  "the Rust one is preferred over the C one: it is maintained (QEMU 8.0 dropped the C one), runs without root in its own user namespace sandbox, enforces --readonly itself and maps ownership (--translate-uid/gid)";

/**
 * HOTMOUNT_VIRTIOFSD wins. Otherwise, of the virtiofsd programs on this host (PATH, then the
 * distributions' libexec places), the Rust one is taken over the C one whichever comes first.
 * `candidates` and `probe` are for tests.
 */
export function chooseVirtiofsd(env = process.env.HOTMOUNT_VIRTIOFSD, candidates?: string[], probe = probeVirtiofsd): Virtiofsd | null {
  if (env) return executable(env) ? { ...probe(env), why: "HOTMOUNT_VIRTIOFSD" } : null;
  const paths = (candidates ?? [which("virtiofsd"), ...VIRTIOFSD_PLACES]).filter((p): p is string => !!p && executable(p));
  const seen = new Set<string>();
  const found: Virtiofsd[] = [];
  for (const p of paths) {
    let real = p;
    try {
      real = realpathSync(p);
    } catch {}
    if (seen.has(real)) continue;
    seen.add(real);
    found.push(probe(p));
  }
  const rust = found.find((v) => v.flavour === "rust");
  const c = found.find((v) => v.flavour === "c");
  if (rust) return { ...rust, why: c ? `${RUST_FIRST} (also found: the C one at ${c.path})` : "the only virtiofsd found" };
  return c ? { ...c, why: "the only flavour found (the Rust virtiofsd would add non-root use, --readonly and ownership mapping)" } : null;
}

export function findVirtiofsd(): Virtiofsd | null {
  if (cachedVirtiofsd === undefined) cachedVirtiofsd = chooseVirtiofsd();
  return cachedVirtiofsd;
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
