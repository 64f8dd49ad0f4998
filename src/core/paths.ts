// Every on-disk name hotmount uses lives here, and nowhere else.
import { homedir } from "node:os";
import { join } from "node:path";
import { HotmountError } from "./errors.ts";
import { checkStateDir } from "./state-dir.ts";

const checkedHomes = new Set<string>();

/**
 * State root: one directory per instance, the SSH key, the agent sockets. The first use in a
 * process refuses a root other users could write to (see state-dir.ts), so every command that
 * reads state, and the agent, checks it without having to remember to.
 */
export function hotmountHome(): string {
  const home = process.env.HOTMOUNT_HOME || join(homedir(), ".hotmount");
  if (!checkedHomes.has(home)) {
    checkStateDir(home, [join(home, "instances"), join(home, "ssh")], join(home, "instances"));
    checkedHomes.add(home);
  }
  return home;
}

/** Content-addressed build cache (demo guest images); safe to share between homes. */
export function cacheHome(): string {
  if (process.env.HOTMOUNT_CACHE) return process.env.HOTMOUNT_CACHE;
  const xdg = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  return join(xdg, "hotmount");
}

export function instancesDir(): string {
  return join(hotmountHome(), "instances");
}

export function sshDir(): string {
  return join(hotmountHome(), "ssh");
}

export function sshKeyPath(): string {
  return join(sshDir(), "id_ed25519");
}

export function guestCacheDir(): string {
  return join(cacheHome(), "guest");
}

export function accelCachePath(): string {
  return join(cacheHome(), "accel.json");
}

/** The files of one instance. Socket names stay short: a unix socket path has at most 107 bytes. */
export interface InstancePaths {
  dir: string;
  config: string;
  /** What the running VM is: pid, accel and why, start time. */
  runtime: string;
  qemuPid: string;
  qemuLog: string;
  qmpSock: string;
  /** Host end of the qemu-guest-agent virtio-serial channel. */
  qgaSock: string;
  serialLog: string;
  agentSock: string;
  agentPid: string;
  agentLog: string;
  journal: string;
  /** Audit log of mount operations (JSON lines, rotated to `.1`); `mount history` reads it. */
  history: string;
  /** The agent's recent events (JSON lines, rotated), so `GET /v1/events?since=` survives a restart. */
  events: string;
  /** virtiofsd sockets and logs live here, one pair per mount id. */
  virtiofsdDir: string;
  /** 9p slot symlinks (slot0 ... slotK-1) that reserved fsdevs point at. */
  ninePDir: string;
  /** reverse-sshfs logs, one per mount id. */
  sshfsDir: string;
  lock: string;
  /** A disk-image instance (`vm start --image`): its copy-on-write overlay of the cached image. */
  diskOverlay: string;
  /** The cloud-init NoCloud seed ISO and the folder it is made from. */
  seedIso: string;
  seedDir: string;
}

export function instancePaths(name: string): InstancePaths {
  // The name becomes a folder name: "..", "a/b" or a control character would point elsewhere.
  if (!name || name === "." || name === ".." || /[/\u0000-\u001f\u007f]/.test(name)) {
    throw new HotmountError("INVALID_ARGUMENT", `invalid instance name ${JSON.stringify(name)}`, {
      hint: "Instance names are single words such as dev; see `hotmount vm list`.",
    });
  }
  const dir = join(instancesDir(), name);
  return {
    dir,
    config: join(dir, "instance.json"),
    runtime: join(dir, "runtime.json"),
    qemuPid: join(dir, "qemu.pid"),
    qemuLog: join(dir, "qemu.log"),
    qmpSock: join(dir, "qmp.sock"),
    qgaSock: join(dir, "qga.sock"),
    serialLog: join(dir, "serial.log"),
    agentSock: join(dir, "agent.sock"),
    agentPid: join(dir, "agent.pid"),
    agentLog: join(dir, "agent.log"),
    journal: join(dir, "mounts.json"),
    history: join(dir, "history.jsonl"),
    events: join(dir, "events.jsonl"),
    virtiofsdDir: join(dir, "vfsd"),
    ninePDir: join(dir, "9p"),
    sshfsDir: join(dir, "sshfs"),
    lock: join(dir, "lock"),
    diskOverlay: join(dir, "disk.qcow2"),
    seedIso: join(dir, "seed.iso"),
    seedDir: join(dir, "seed"),
  };
}

export function virtiofsdSocket(name: string, mountId: string): string {
  return join(instancePaths(name).virtiofsdDir, `${mountId}.sock`);
}

export function virtiofsdLog(name: string, mountId: string): string {
  return join(instancePaths(name).virtiofsdDir, `${mountId}.log`);
}

export function ninePSlotLink(name: string, slot: number): string {
  return join(instancePaths(name).ninePDir, `slot${slot}`);
}

/** Which mount holds a reserved 9p slot, next to its link (see drivers/qemu/hotplug-9p.ts). */
export function ninePSlotOwner(name: string, slot: number): string {
  return `${ninePSlotLink(name, slot)}.owner`;
}

/** What an unused 9p slot link points at. */
export function ninePEmptyDir(name: string): string {
  return join(instancePaths(name).ninePDir, "empty");
}

export function sshfsLog(name: string, mountId: string): string {
  return join(instancePaths(name).sshfsDir, `${mountId}.log`);
}

/** An empty folder: reverse-sshfs mounts its sftp-server jail here, inside private namespaces only. */
export function sftpJailDir(name: string): string {
  return join(instancePaths(name).sshfsDir, "jail");
}

export const UNIX_PATH_MAX = 107;
