// reverse-sshfs: sshfs runs in the guest in passive mode and speaks SFTP over its stdin/stdout,
// which the agent joins to a host OpenSSH sftp-server. No QMP, no host root, no host port.
import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants, createWriteStream, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { ClientChannel } from "ssh2";
import { HotmountError } from "../../core/errors.ts";
import { reverseSshfsArgv } from "../../core/mount-options.ts";
import { sshfsLog } from "../../core/paths.ts";
import { terminate, waitUntil } from "../../util/process.ts";
import { guestMounts } from "../guest-fs.ts";
import type { MountRecord } from "../journal.ts";
import type { TransportContext, TransportDriver } from "./types.ts";

const SFTP_SERVER_PLACES = [
  "/usr/lib/openssh/sftp-server", // Debian, Ubuntu
  "/usr/libexec/openssh/sftp-server", // Fedora, RHEL
  "/usr/lib/ssh/sftp-server", // Alpine, Arch
  "/usr/libexec/sftp-server", // macOS
  "/opt/homebrew/libexec/sftp-server", // Homebrew (Apple silicon)
  "/usr/local/libexec/sftp-server", // Homebrew (Intel)
];

export function findSftpServer(): string | null {
  const env = process.env.HOTMOUNT_SFTP_SERVER;
  for (const p of [env, ...SFTP_SERVER_PLACES]) {
    if (!p) continue;
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {}
  }
  return null;
}

interface Session {
  server: ChildProcess;
  channel: ClientChannel;
  stopping: boolean;
}

export function reverseSshfsTransport(ctx: TransportContext): TransportDriver {
  const sessions = new Map<string, Session>();

  return {
    async attach() {
      if (!findSftpServer()) {
        throw new HotmountError("HOST_DEPENDENCY_MISSING", "OpenSSH's sftp-server is not installed on this host", {
          hint: "Debian/Ubuntu: apt-get install openssh-sftp-server; Fedora: dnf install openssh-server; or set HOTMOUNT_SFTP_SERVER.",
        });
      }
    },

    async mount(rec, progress) {
      const ssh = await ctx.ssh();
      const which = await ssh.exec(["sh", "-c", "command -v sshfs"], { root: false, timeoutMs: 10_000 });
      if (which.code !== 0) {
        throw new HotmountError("UNSUPPORTED", "sshfs is not installed in the guest", {
          hint: "Install it in the guest (Debian/Ubuntu: apt-get install sshfs; Fedora: dnf install fuse-sshfs), or use --type virtiofs.",
        });
      }
      progress("starting sftp-server and sshfs");
      const log = sshfsLog(ctx.cfg.name, rec.id);
      mkdirSync(dirname(log), { recursive: true, mode: 0o700 });
      const logStream = createWriteStream(log, { flags: "a" });
      const args = ["-e", ...(rec.writable ? [] : ["-R"]), "-d", rec.hostPath];
      const server = spawn(findSftpServer()!, args, { stdio: ["pipe", "pipe", "pipe"] });
      server.stderr!.pipe(logStream);
      const channel = await ssh.channel(reverseSshfsArgv(rec.hostPath, rec.mountPoint, rec.writable)).catch(async (e) => {
        server.kill("SIGKILL");
        throw e;
      });
      channel.stderr.on("data", (d: Buffer) => logStream.write(`[guest sshfs] ${d}`));
      server.stdout!.pipe(channel);
      channel.pipe(server.stdin!);
      const s: Session = { server, channel, stopping: false };
      sessions.set(rec.id, s);
      let ended = false;
      const onEnd = (what: string) => {
        if (ended) return;
        ended = true;
        if (!s.stopping) ctx.markFailed(rec.id, `reverse-sshfs connection ended: ${what}`, "Remove the mount and add it again.");
        channel.close();
        server.kill("SIGTERM");
      };
      server.on("exit", (code, sig) => onEnd(`sftp-server exited (${sig ?? code})`));
      channel.on("close", () => onEnd("the guest's sshfs exited"));

      const ok = await waitUntil(async () => ended || (await guestMounts(ssh)).some((m) => m.mountPoint === rec.mountPoint), 15_000, 100);
      if (!ok || ended) {
        s.stopping = true;
        await stopSession(s);
        sessions.delete(rec.id);
        throw new HotmountError("GUEST_COMMAND_FAILED", `sshfs did not mount ${rec.mountPoint} in the guest`, {
          hint: `See ${log}. The guest needs /dev/fuse and the fuse module.`,
        });
      }
    },

    async detach(rec: MountRecord) {
      const s = sessions.get(rec.id);
      if (!s) return;
      s.stopping = true;
      await stopSession(s);
      sessions.delete(rec.id);
    },
  };
}

async function stopSession(s: Session): Promise<void> {
  // After the guest unmount sshfs exits by itself, and sftp-server sees EOF.
  await waitUntil(() => s.server.exitCode !== null || s.server.signalCode !== null, 2000);
  s.channel.close();
  if (s.server.pid) await terminate(s.server.pid, 2000);
}
