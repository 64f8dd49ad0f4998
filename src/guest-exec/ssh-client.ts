// SSH to a guest over ssh2 (pure JS: Bun cannot load its native crypto). One connection is kept
// and reused for every guest command; commands are argv lists joined by the one quoting function.
import { readFileSync } from "node:fs";
import { Client, type ClientChannel, type ConnectConfig } from "ssh2";
import type { SshInfo } from "../core/model.ts";
import { HotmountError } from "../core/errors.ts";
import { joinArgv } from "../core/shell-quote.ts";
import { sleep } from "../util/process.ts";

/** How many times a refused exec request is asked again (see GuestSsh.channel). */
const REFUSED_RETRIES = 2;

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  timeoutMs?: number;
  /** Run as root through `sudo -n` when the SSH user is not root. */
  root?: boolean;
}

export class GuestSsh {
  private closed = false;
  private dropListeners: Array<(err?: Error) => void> = [];

  private constructor(
    private readonly client: Client,
    readonly target: SshInfo,
  ) {
    client.on("close", () => {
      this.closed = true;
      for (const l of this.dropListeners) l();
    });
    client.on("error", () => {});
  }

  static async connect(target: SshInfo, opts: { timeoutMs?: number } = {}): Promise<GuestSsh> {
    let key: Buffer;
    try {
      key = readFileSync(target.identityFile);
    } catch (e) {
      throw new HotmountError("SSH_FAILED", `cannot read SSH key ${target.identityFile}`, { cause: e, hint: "Run `hotmount vm start` again to recreate it." });
    }
    const cfg: ConnectConfig = {
      host: target.host,
      port: target.port,
      username: target.user,
      privateKey: key,
      readyTimeout: opts.timeoutMs ?? 10_000,
      keepaliveInterval: 5_000,
      keepaliveCountMax: 3,
      // The guest is ours, on loopback, with a host key made at its boot: nothing to pin.
      hostVerifier: () => true,
    };
    const client = new Client();
    await new Promise<void>((resolve, reject) => {
      client.once("ready", () => resolve());
      // on, not once: a handshake timeout is followed by "Connection lost before handshake", a
      // second error that would otherwise go unhandled and end the process (the agent).
      client.on("error", (e) =>
        reject(
          new HotmountError("SSH_FAILED", `SSH to ${target.user}@${target.host}:${target.port} failed: ${e.message}`, {
            cause: e,
            hint: "Is the VM running? See `hotmount vm list`.",
          }),
        ),
      );
      client.connect(cfg);
    });
    return new GuestSsh(client, target);
  }

  /** Connects, retrying until the deadline: a booting guest refuses or resets early attempts. */
  static async connectWithRetry(target: SshInfo, deadlineMs: number): Promise<GuestSsh> {
    const end = Date.now() + deadlineMs;
    let last: unknown;
    while (Date.now() < end) {
      try {
        return await GuestSsh.connect(target, { timeoutMs: Math.max(1000, Math.min(10_000, end - Date.now())) });
      } catch (e) {
        last = e;
        await sleep(250);
      }
    }
    throw new HotmountError("TIMEOUT", `the guest's SSH server did not answer within ${Math.round(deadlineMs / 1000)} s`, {
      cause: last,
      hint: "See the serial log with `hotmount vm logs`.",
    });
  }

  get isConnected(): boolean {
    return !this.closed;
  }

  onDrop(cb: () => void): void {
    this.dropListeners.push(cb);
  }

  commandString(argv: readonly string[], root = true): string {
    if (root && this.target.user !== "root") return joinArgv(["sudo", "-n", "--", ...argv]);
    return joinArgv(argv);
  }

  /**
   * Opens an exec channel; the caller owns its streams (reverse-sshfs joins them to sftp-server).
   * A refused channel or exec request ran nothing in the guest, so it is asked again, twice at most
   * (seen once in a full run: dropbear refused one exec of a libvirt guest, "Unable to exec").
   */
  async channel(argv: readonly string[], opts: ExecOptions = {}): Promise<ClientChannel> {
    const cmd = this.commandString(argv, opts.root ?? true);
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.openExec(cmd);
      } catch (e) {
        const refused = /Unable to exec|Channel open failure/i.test((e as Error).message);
        if (!refused || attempt >= REFUSED_RETRIES || this.closed) throw e;
        await sleep(100 * 3 ** attempt);
      }
    }
  }

  private openExec(cmd: string): Promise<ClientChannel> {
    return new Promise((resolve, reject) => {
      if (this.closed)
        return reject(new HotmountError("SSH_FAILED", "the SSH connection to the guest is closed", { hint: "The agent reconnects by itself; try again." }));
      this.client.exec(cmd, (err, ch) => (err ? reject(new HotmountError("SSH_FAILED", `guest exec failed: ${err.message}`, { cause: err })) : resolve(ch)));
    });
  }

  async exec(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const ch = await this.channel(argv, opts);
    const timeoutMs = opts.timeoutMs ?? 30_000;
    return new Promise((resolve, reject) => {
      let stdout = "";
      let stderr = "";
      const timer = setTimeout(() => {
        ch.close();
        reject(new HotmountError("TIMEOUT", `guest command timed out after ${timeoutMs} ms: ${argv[0]}`, { details: { argv } }));
      }, timeoutMs);
      ch.on("data", (d: Buffer) => (stdout += d.toString()));
      ch.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      ch.on("close", (code: number | null) => {
        clearTimeout(timer);
        resolve({ code: code ?? 255, stdout, stderr });
      });
    });
  }

  /** exec that throws GUEST_COMMAND_FAILED on a non-zero exit; sudo refusals get their own hint. */
  async run(argv: readonly string[], opts: ExecOptions = {}): Promise<string> {
    const r = await this.exec(argv, opts);
    if (r.code !== 0) {
      const err = r.stderr.trim().split("\n").slice(-3).join(" | ") || `exit ${r.code}`;
      if (/sudo: a password is required|sudo: .*not allowed/.test(r.stderr)) {
        throw new HotmountError("PERMISSION_DENIED", `the guest user ${this.target.user} may not run ${argv[0]} as root without a password`, {
          hint: `Allow passwordless sudo for ${this.target.user} in the guest (NOPASSWD in /etc/sudoers.d).`,
        });
      }
      throw new HotmountError("GUEST_COMMAND_FAILED", `guest command ${argv[0]} failed: ${err}`, { details: { argv, code: r.code, stderr: r.stderr } });
    }
    return r.stdout;
  }

  close(): void {
    this.closed = true;
    this.client.end();
  }
}
