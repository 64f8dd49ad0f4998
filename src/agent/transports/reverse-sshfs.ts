// reverse-sshfs: sshfs runs in the guest in passive mode and speaks SFTP over its stdin/stdout,
// which the agent joins to a host OpenSSH sftp-server. No QMP, no host root, no host port.
//
// Supervision: the session ends when sftp-server exits or the SSH channel closes. If the agent's
// SSH connection itself dropped while the guest is still up, the mount is marked failed and then
// re-established (dead guest mount lazily unmounted, a new sftp-server and sshfs started); any
// other end (sftp-server killed, sshfs killed or unmounted in the guest) leaves it failed.
import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants, createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import { dirname } from "node:path";
import type { ClientChannel } from "ssh2";
import type { Progress } from "../../../drivers/driver.ts";
import { HotmountError } from "../../core/errors.ts";
import { reverseSshfsArgv, sftpServerArgs } from "../../core/mount-options.ts";
import { sftpJailDir, sshfsLog } from "../../core/paths.ts";
import type { GuestSsh } from "../../guest-exec/ssh-client.ts";
import { terminate, waitUntil } from "../../util/process.ts";
import { createMountPoint, guestMounts, unmount } from "../guest-mount.ts";
import { UMOUNT_DEADLINE_MS } from "../guest-unmount.ts";
import { guestOwner } from "./guest-owner.ts";
import type { MountRecord } from "../journal.ts";
import { sftpLaunch } from "./sftp-jail.ts";
import type { TransportContext, MountTransport } from "./types.ts";

const SFTP_SERVER_PLACES = [
  "/usr/lib/openssh/sftp-server", // Debian, Ubuntu
  "/usr/libexec/openssh/sftp-server", // Fedora, RHEL
  "/usr/lib/ssh/sftp-server", // Alpine, Arch
  "/usr/libexec/sftp-server", // macOS
  "/opt/homebrew/libexec/sftp-server", // Homebrew (Apple silicon)
  "/usr/local/libexec/sftp-server", // Homebrew (Intel)
];

const MOUNT_DEADLINE_MS = 15_000;
/** After the guest unmount, sshfs exits and the channel closes within this. */
const EXIT_GRACE_MS = 2000;
const PID_LINE = /^hotmount-sshfs-pid (\d+)\n/;
const quiet: Progress = () => {};

export function findSftpServer(places: readonly (string | undefined)[] = [process.env.HOTMOUNT_SFTP_SERVER, ...SFTP_SERVER_PLACES]): string | null {
  for (const p of places) {
    if (!p) continue;
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {}
  }
  return null;
}

export function sftpServerMissing(): HotmountError {
  return new HotmountError("HOST_DEPENDENCY_MISSING", "OpenSSH's sftp-server is not installed on this host", {
    hint: "Debian/Ubuntu: apt-get install openssh-sftp-server; Fedora: dnf install openssh-server; Alpine: apk add openssh-sftp-server; macOS has it; or set HOTMOUNT_SFTP_SERVER to its path.",
  });
}

/**
 * The guest command: a constant shell prologue reports sshfs's pid on stderr (so a sshfs that
 * does not exit by itself can be killed), then execs sshfs with its argv untouched.
 */
export function guestSshfsCommand(sshfsArgv: string[]): string[] {
  return ["sh", "-c", 'echo "hotmount-sshfs-pid $$" >&2; exec "$@"', "hotmount-sshfs", ...sshfsArgv];
}

/** SIGKILLs a guest pid if it still is the sshfs of this mount point (pids are reused). */
async function killGuestSshfs(ssh: GuestSsh, pid: number, mountPoint: string): Promise<void> {
  const script =
    '[ -r "/proc/$1/cmdline" ] || exit 0; a=$(tr "\\0" "\\n" < "/proc/$1/cmdline"); case "$a" in sshfs*) printf "%s\\n" "$a" | grep -qxF -- "$2" && kill -KILL "$1";; esac; true';
  await ssh.exec(["sh", "-c", script, "sh", String(pid), mountPoint], { timeoutMs: 10_000 }).catch(() => {});
}

interface Session {
  server: ChildProcess;
  channel: ClientChannel;
  ssh: GuestSsh;
  log: WriteStream;
  guestPid: number | null;
  mountPoint: string;
  /** The channel closed (sshfs exited, or the SSH connection went). */
  closed: boolean;
  /** We are taking it down: its end is not a failure. */
  stopping: boolean;
}

export function reverseSshfsTransport(ctx: TransportContext): MountTransport {
  const sessions = new Map<string, Session>();

  /** Starts sftp-server and the guest's sshfs and waits for the guest mount; undoes itself on failure. */
  async function start(rec: MountRecord, progress: Progress): Promise<void> {
    const sftp = findSftpServer();
    if (!sftp) throw sftpServerMissing();
    const ssh = await ctx.ssh();
    const which = await ssh.exec(["sh", "-c", "command -v sshfs"], { root: false, timeoutMs: 10_000 });
    if (which.code !== 0) {
      throw new HotmountError("UNSUPPORTED", "sshfs is not installed in the guest", {
        hint: "Install it in the guest (Debian/Ubuntu: apt-get install sshfs; Fedora: dnf install fuse-sshfs; Alpine: apk add sshfs), or use --type virtiofs or 9p.",
      });
    }
    const owner = await guestOwner(ssh, ssh.target.user);
    progress("starting sftp-server and sshfs");
    // Confined to the shared folder where this host allows it (see sftp-jail.ts).
    const launch = sftpLaunch(sftp, sftpServerArgs(rec.hostPath, rec.writable), rec.hostPath, rec.writable, sftpJailDir(ctx.cfg.name));
    const logPath = sshfsLog(ctx.cfg.name, rec.id);
    mkdirSync(dirname(logPath), { recursive: true, mode: 0o700 });
    const log = createWriteStream(logPath, { flags: "a" });
    log.on("error", () => {});
    if (!launch.confined) {
      log.write(`[hotmount] sftp-server is not confined to ${rec.hostPath} (${launch.why}): guest root can reach every host file this user can\n`);
      ctx.log.warn("reverse-sshfs sftp-server is not confined to the shared folder", { id: rec.id, why: launch.why });
    }
    const server = spawn(launch.command, launch.args, { stdio: ["pipe", "pipe", "pipe"] });
    server.on("error", (e) => log.write(`[hotmount] sftp-server: ${e.message}\n`));
    server.stdin!.on("error", () => {});
    server.stderr!.on("data", (d: Buffer) => log.write(d));
    let channel: ClientChannel;
    try {
      channel = await ssh.channel(guestSshfsCommand(reverseSshfsArgv(rec.hostPath, rec.mountPoint, rec.writable, owner)));
    } catch (e) {
      server.kill("SIGKILL");
      log.end();
      throw e;
    }
    const s: Session = { server, channel, ssh, log, guestPid: null, mountPoint: rec.mountPoint, closed: false, stopping: false };
    sessions.set(rec.id, s);
    channel.on("error", () => {});
    let head = "";
    channel.stderr.on("data", (d: Buffer) => {
      if (s.guestPid === null && head.length < 200) {
        head += d.toString();
        const m = PID_LINE.exec(head);
        if (!m) return;
        s.guestPid = Number(m[1]);
        d = Buffer.from(head.slice(m[0].length));
        if (!d.length) return;
      }
      log.write(`[guest sshfs] ${d}`);
    });
    server.stdout!.pipe(channel);
    channel.pipe(server.stdin!);

    let ended = false;
    const onEnd = (what: string) => {
      if (ended) return;
      ended = true;
      channel.close();
      server.kill("SIGTERM");
      if (s.stopping) return;
      // ssh2 marks the client closed before it closes its channels, so this tells an SSH drop
      // (guest still up, or not) from sshfs or sftp-server ending on their own.
      const dropped = !ssh.isConnected;
      log.write(`[hotmount] session ended: ${what}${dropped ? " (SSH connection dropped)" : ""}\n`);
      if (dropped && ctx.recover) {
        ctx.markFailed(
          rec.id,
          `reverse-sshfs connection ended: the SSH connection to the guest dropped (${what})`,
          "hotmount is re-establishing it; if it stays failed, remove the mount and add it again.",
        );
        ctx.recover(rec.id, () => reestablish(rec));
      } else {
        ctx.markFailed(rec.id, `reverse-sshfs connection ended: ${what}`, "Remove the mount (`hotmount mount remove`) and add it again.");
      }
    };
    server.on("exit", (code, sig) => onEnd(`sftp-server exited (${sig ?? code})`));
    channel.on("close", () => {
      s.closed = true;
      onEnd("the guest's sshfs exited");
    });

    const ok = await waitUntil(async () => ended || (await guestMounts(ssh)).some((m) => m.mountPoint === rec.mountPoint), MOUNT_DEADLINE_MS, 100);
    if (!ok || ended) {
      await stopSession(s);
      sessions.delete(rec.id);
      // sshfs may have mounted just as we gave up: never leave a mount behind.
      if ((await guestMounts(ssh).catch(() => [])).some((m) => m.mountPoint === rec.mountPoint)) {
        await unmount(ssh, rec.mountPoint, { lazy: true, timeoutMs: UMOUNT_DEADLINE_MS });
      }
      throw new HotmountError("GUEST_COMMAND_FAILED", `sshfs did not mount ${rec.mountPoint} in the guest`, {
        hint: `See ${logPath}. The guest needs /dev/fuse and the fuse module.`,
      });
    }
  }

  /** Ends a session: sshfs should be gone already (the guest unmounted); make sure of it. */
  async function stopSession(s: Session): Promise<void> {
    s.stopping = true;
    if (!(await waitUntil(() => s.closed, EXIT_GRACE_MS)) && s.guestPid && s.ssh.isConnected) {
      // sshfs did not exit (stopped, or stuck): kill it, checking the pid is still our sshfs.
      await killGuestSshfs(s.ssh, s.guestPid, s.mountPoint);
      await waitUntil(() => s.closed, EXIT_GRACE_MS);
    }
    s.channel.close();
    if (s.server.pid) await terminate(s.server.pid, 2000);
    s.log.end();
  }

  /** After an SSH drop or an agent restart: clear the dead session and guest mount, then start again. */
  async function reestablish(rec: MountRecord): Promise<void> {
    const old = sessions.get(rec.id);
    if (old) {
      sessions.delete(rec.id);
      await stopSession(old);
    }
    const ssh = await ctx.ssh();
    if (old?.guestPid) {
      // The old sshfs may not have noticed its stdin went away.
      await killGuestSshfs(ssh, old.guestPid, rec.mountPoint);
    }
    if ((await guestMounts(ssh)).some((m) => m.mountPoint === rec.mountPoint)) {
      const r = await unmount(ssh, rec.mountPoint, { lazy: true, timeoutMs: UMOUNT_DEADLINE_MS });
      if (!r.ok) throw new HotmountError("GUEST_COMMAND_FAILED", `the guest could not detach the dead mount at ${rec.mountPoint}: ${r.message}`);
    }
    await start(rec, quiet);
    ctx.log.info("reverse-sshfs re-established", { id: rec.id, mountPoint: rec.mountPoint });
  }

  return {
    async attach() {
      if (!findSftpServer()) throw sftpServerMissing();
    },

    async mount(rec, progress, opts) {
      if (opts?.mkdir) await createMountPoint(await ctx.guest(), rec.mountPoint);
      await start(rec, progress);
    },

    async detach(rec: MountRecord) {
      const s = sessions.get(rec.id);
      if (!s) return;
      sessions.delete(rec.id);
      await stopSession(s);
    },

    reestablish,
  };
}
