// One virtiofsd per share. The C virtiofsd (QEMU ≤ 7.2) and the Rust one differ in flags and in
// read-only support; the C one has none, so a read-only share runs it inside a private mount
// namespace where the source is a read-only bind mount: the host kernel enforces it.
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { HotmountError } from "../../src/core/errors.ts";
import type { GuestOwner } from "../../src/core/mount-options.ts";
import { isAlive, tailFile, terminate, waitUntil } from "../../src/util/process.ts";
import { requireVirtiofsd, type Virtiofsd } from "./host-tools.ts";
import { cVirtiofsdTuningArgs, rustVirtiofsdTuningArgs, virtiofsTuning } from "./virtiofs-tuning.ts";
import { rustSandbox, type SandboxChoice } from "./virtiofsd-sandbox.ts";

export interface VirtiofsdSpec {
  socket: string;
  log: string;
  source: string;
  writable: boolean;
  /** The guest's non-root login user: files map to it where this virtiofsd can (docs/ownership.md). */
  owner?: GuestOwner;
}

/**
 * Rust virtiofsd uid/gid translation for a non-root guest user: every guest id is squashed to
 * the host user virtiofsd runs as (the invoking user), and that host user shows in the guest
 * as the guest user. Other host owners show as they are. The C virtiofsd has no such option:
 * it passes ids straight through.
 */
export function rustTranslateArgs(owner: GuestOwner, host: GuestOwner): string[] {
  const all = 4294967295; // ids 0 .. 2^32-2: every valid id
  return [
    `--translate-uid=squash-guest:0:${host.uid}:${all}`,
    `--translate-uid=host:${host.uid}:${owner.uid}:1`,
    `--translate-gid=squash-guest:0:${host.gid}:${all}`,
    `--translate-gid=host:${host.gid}:${owner.gid}:1`,
  ];
}

// Constant script: the user's path reaches it only as "$1", never inside the string.
const RO_WRAPPER = 'mount --bind -- "$1" "$1" && mount -o remount,bind,ro -- "$1" && shift && exec "$@"';

/**
 * The C virtiofsd parses -o like libfuse's fuse_opt: a comma splits options and a backslash
 * escapes the next character. Unescaped, a comma cuts the path short and a backslash vanishes
 * (a folder "a<backslash>b" would share "ab" instead), so both are escaped.
 */
export function cVirtiofsdOptValue(v: string): string {
  return v.replace(/[\\,]/g, (c) => `\\${c}`);
}

/**
 * Without CAP_MKNOD, guest root cannot make block or character devices in the host folder (a
 * root virtiofsd otherwise creates real ones); fifos and sockets need no capability and still work.
 */
const NO_MKNOD = "-mknod";

export function virtiofsdArgv(v: Virtiofsd, s: VirtiofsdSpec, sandbox = rustSandbox().mode): string[] {
  if (v.flavour === "rust") {
    const a = [
      v.path,
      "--socket-path",
      s.socket,
      "--shared-dir",
      s.source,
      ...rustVirtiofsdTuningArgs(virtiofsTuning()),
      "--sandbox",
      sandbox,
      `--modcaps=${NO_MKNOD}`,
    ];
    if (!s.writable) a.push("--readonly");
    if (s.owner && v.translateIds) a.push(...rustTranslateArgs(s.owner, { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 }));
    return a;
  }
  const base = [
    v.path,
    `--socket-path=${s.socket}`,
    "-o",
    `source=${cVirtiofsdOptValue(s.source)}`,
    "-o",
    `modcaps=${NO_MKNOD}`,
    ...cVirtiofsdTuningArgs(virtiofsTuning()),
  ];
  if (s.writable) return base;
  return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", RO_WRAPPER, "hotmount-ro", s.source, ...base];
}

/**
 * Whether a process's argv is a virtiofsd: the program itself, or a virtiofsd started through
 * its own dynamic loader (`ld-linux… --library-path … /path/virtiofsd`, as a virtiofsd built for
 * a newer libc than the host's runs, e.g. scripts/host-stack).
 */
export function isVirtiofsdCommand(argv: string[]): boolean {
  const base = (a: string | undefined) => (a ?? "").replace(/^.*\//, "");
  if (base(argv[0]).includes("virtiofsd")) return true;
  return /^ld-linux/.test(base(argv[0])) && argv.slice(1).some((a) => base(a) === "virtiofsd");
}

export interface RunningVirtiofsd {
  pid: number;
  child: ChildProcess | null;
  socket: string;
  /** How the Rust virtiofsd is confined (the C one, root only, always sandboxes itself). */
  sandbox?: SandboxChoice;
}

export async function startVirtiofsd(s: VirtiofsdSpec): Promise<RunningVirtiofsd> {
  const v = requireVirtiofsd();
  if (v.flavour === "c" && process.getuid?.() !== 0) {
    throw new HotmountError("PERMISSION_DENIED", "the C virtiofsd of QEMU ≤ 7.2 only runs as root", {
      hint: "Run the agent as root, install the Rust virtiofsd, or use --type 9p / reverse-sshfs.",
    });
  }
  mkdirSync(dirname(s.socket), { recursive: true, mode: 0o700 });
  rmSync(s.socket, { force: true });
  const sandbox = v.flavour === "rust" ? rustSandbox() : undefined;
  const argv = virtiofsdArgv(v, s, sandbox?.mode);
  writeFileSync(s.log, `# ${new Date().toISOString()} ${JSON.stringify(argv)}\n${sandbox ? `# ${sandbox.detail}\n` : ""}`);
  const fd = openSync(s.log, "a");
  // Detached: it must outlive an agent crash, or the guest's mount would hang.
  const child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ["ignore", fd, fd] });
  closeSync(fd);
  child.on("error", () => {});
  const pid = child.pid ?? 0;
  const ready = await waitUntil(() => existsSync(s.socket) || !isAlive(pid), 5000, 10);
  if (!ready || !existsSync(s.socket)) {
    await terminate(pid, 500);
    throw new HotmountError("HOST_DEPENDENCY_MISSING", `virtiofsd did not start for ${s.source}`, {
      hint: `virtiofsd said: ${tailFile(s.log, 4).replace(/^# .*\n?/gm, "") || "(nothing)"}`,
      details: { log: s.log },
    });
  }
  return { pid, child, socket: s.socket, sandbox };
}

/** After chardev-remove the C virtiofsd exits by itself within ~2 s; make sure it is gone. */
export async function stopVirtiofsd(v: { pid: number; socket: string }, graceMs = 3000): Promise<void> {
  if (!(await waitUntil(() => !isAlive(v.pid), graceMs))) await terminate(v.pid, 2000);
  rmSync(v.socket, { force: true });
}
