// A client for qemu-guest-agent (QGA) on the host end of its virtio-serial channel: newline-
// delimited JSON, one request at a time. QGA has no greeting and no request ids, so a session
// starts with guest-sync-delimited: a 0xFF byte resets the guest's JSON parser, and the reply
// (0xFF sentinel, then our random id) marks where this session's replies begin; whatever an
// abandoned earlier session left in the channel is read and dropped until then.
import { randomInt } from "node:crypto";
import { connect, type Socket } from "node:net";
import { HotmountError } from "../core/errors.ts";
import type { ExecResult } from "./ssh-client.ts";
import { sleep } from "../util/process.ts";

const SENTINEL = 0xff;
const NEWLINE = 0x0a;
const HINT = "Is qemu-guest-agent running in the guest? Without it hotmount runs guest commands over SSH.";

/** What guest-exec-status returns (QAPI GuestExecStatus), over a socket or through libvirt. */
export interface ExecStatus {
  exited: boolean;
  exitcode?: number;
  signal?: number;
  "out-data"?: string;
  "err-data"?: string;
}

interface Waiter {
  what: string;
  resolve(v: unknown): void;
  reject(e: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

export class QgaClient {
  private buf: Buffer = Buffer.alloc(0);
  /** While syncing: the id whose reply ends the sync; replies before it are stale and dropped. */
  private syncId: number | null = null;
  private sentinelSeen = false;
  private waiter: Waiter | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private closedWhy: string | null = null;

  private constructor(
    private readonly sock: Socket,
    readonly socketPath: string,
  ) {
    sock.on("data", (d: Buffer) => this.onData(d));
    sock.on("error", (e) => this.shut(`the qemu-guest-agent channel failed: ${e.message}`));
    sock.on("close", () => this.shut("the qemu-guest-agent channel closed"));
  }

  /** Connects and syncs. QEMU serves one client at a time: a second one waits until the first leaves. */
  static async connect(socketPath: string, opts: { timeoutMs?: number } = {}): Promise<QgaClient> {
    const timeoutMs = opts.timeoutMs ?? 5000;
    const deadline = Date.now() + timeoutMs;
    const sock = await openSocket(socketPath, timeoutMs);
    const c = new QgaClient(sock, socketPath);
    try {
      await c.sync(Math.max(1, deadline - Date.now()));
    } catch (e) {
      c.close();
      throw e;
    }
    return c;
  }

  get isClosed(): boolean {
    return this.closedWhy !== null;
  }

  /** Sends one command and waits for its reply; calls are queued, never interleaved. */
  execute<T>(command: string, args?: Record<string, unknown>, opts: { timeoutMs?: number } = {}): Promise<T> {
    const line = JSON.stringify(args ? { execute: command, arguments: args } : { execute: command }) + "\n";
    return this.serial(() => this.send(command, Buffer.from(line), opts.timeoutMs ?? 10_000)) as Promise<T>;
  }

  async ping(timeoutMs = 1000): Promise<void> {
    await this.execute("guest-ping", undefined, { timeoutMs });
  }

  /**
   * Runs argv in the guest with no shell: path and arguments go to execve as they are. Never throws
   * on a non-zero exit; a program that cannot be started is exit 127, as a shell would report it.
   */
  async exec(argv: readonly string[], opts: { timeoutMs?: number } = {}): Promise<ExecResult> {
    const timeoutMs = opts.timeoutMs ?? 30_000;
    const deadline = Date.now() + timeoutMs;
    const left = () => Math.max(1, deadline - Date.now());
    let pid: number;
    try {
      ({ pid } = await this.execute<{ pid: number }>("guest-exec", { path: argv[0], arg: argv.slice(1), "capture-output": true }, { timeoutMs: left() }));
    } catch (e) {
      if (e instanceof HotmountError && e.details?.qgaError) return { code: 127, stdout: "", stderr: String(e.details.qgaError) };
      throw e;
    }
    // Short polls while a command is young (most end within tens of ms; each poll is a cheap round
    // trip to qemu-ga), then backing off to 200 ms.
    const started = Date.now();
    for (let delay = 5; ; delay = Math.min(Date.now() - started < 1000 ? 20 : 200, delay * 2)) {
      const st = await this.execute<ExecStatus>("guest-exec-status", { pid }, { timeoutMs: left() });
      if (st.exited) {
        return { code: st.exitcode ?? 128 + (st.signal ?? 0), stdout: decode(st["out-data"]), stderr: decode(st["err-data"]) };
      }
      if (Date.now() + delay >= deadline) break;
      await sleep(delay);
    }
    // QGA has no kill: a second guest-exec does it. The pid was running a moment ago, so it is still ours.
    await this.execute("guest-exec", { path: "kill", arg: ["-KILL", String(pid)] }, { timeoutMs: 2000 }).catch(() => {});
    throw new HotmountError("TIMEOUT", `guest command timed out after ${timeoutMs} ms: ${argv[0]}`, {
      details: { argv },
      hint: "The guest is slow or the command hangs (a dead mount?); see `hotmount vm logs`.",
    });
  }

  close(): void {
    this.shut("closed");
    this.sock.destroy();
  }

  private async sync(timeoutMs: number): Promise<void> {
    const id = randomInt(1, 2 ** 31);
    const line = JSON.stringify({ execute: "guest-sync-delimited", arguments: { id } }) + "\n";
    await this.serial(async () => {
      this.syncId = id;
      this.sentinelSeen = false;
      await this.send("guest-sync-delimited", Buffer.concat([Buffer.from([SENTINEL]), Buffer.from(line)]), timeoutMs);
    });
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => {});
    return run;
  }

  private send(what: string, payload: Buffer, timeoutMs: number): Promise<unknown> {
    if (this.closedWhy) return Promise.reject(new HotmountError("GUEST_COMMAND_FAILED", this.closedWhy, { hint: HINT }));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        // A late reply would be taken for the next request's: this connection is done.
        this.close();
        reject(new HotmountError("TIMEOUT", `qemu-guest-agent did not answer ${what} within ${timeoutMs} ms`, { hint: HINT }));
      }, timeoutMs);
      this.waiter = { what, resolve, reject, timer };
      this.sock.write(payload);
    });
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    for (;;) {
      if (this.syncId !== null && !this.sentinelSeen) {
        const i = this.buf.indexOf(SENTINEL);
        if (i < 0) {
          this.buf = Buffer.alloc(0);
          return;
        }
        this.buf = this.buf.subarray(i + 1);
        this.sentinelSeen = true;
      }
      const nl = this.buf.indexOf(NEWLINE);
      if (nl < 0) return;
      const text = this.buf.subarray(0, nl).toString("utf8").trim();
      this.buf = this.buf.subarray(nl + 1);
      if (!text) continue;
      let msg: { return?: unknown; error?: { class?: string; desc?: string } };
      try {
        msg = JSON.parse(text);
      } catch {
        if (this.syncId !== null) this.sentinelSeen = false;
        else this.fail(`qemu-guest-agent sent a line that is not JSON: ${text.slice(0, 80)}`);
        continue;
      }
      if (this.syncId !== null) {
        // A stale sync reply (another id) means: look for the next sentinel.
        if (msg.return !== this.syncId) {
          this.sentinelSeen = false;
          continue;
        }
        this.syncId = null;
      }
      this.deliver(msg);
    }
  }

  private deliver(msg: { return?: unknown; error?: { class?: string; desc?: string } }): void {
    const w = this.waiter;
    if (!w) return; // QGA sends no events: nothing asked for this, so it is dropped
    this.waiter = null;
    clearTimeout(w.timer);
    if (msg.error) {
      const desc = msg.error.desc ?? msg.error.class ?? "error";
      w.reject(new HotmountError("GUEST_COMMAND_FAILED", `qemu-guest-agent refused ${w.what}: ${desc}`, { hint: HINT, details: { qgaError: desc } }));
    } else {
      w.resolve(msg.return);
    }
  }

  private fail(why: string): void {
    this.closedWhy ??= why;
    this.close();
  }

  private shut(why: string): void {
    this.closedWhy ??= why;
    const w = this.waiter;
    if (!w) return;
    this.waiter = null;
    clearTimeout(w.timer);
    w.reject(new HotmountError("GUEST_COMMAND_FAILED", `${this.closedWhy} during ${w.what}`, { hint: HINT }));
  }
}

function decode(b64: string | undefined): string {
  return b64 ? Buffer.from(b64, "base64").toString("utf8") : "";
}

function openSocket(path: string, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = connect(path);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new HotmountError("TIMEOUT", `could not connect to ${path} within ${timeoutMs} ms`, { hint: HINT }));
    }, timeoutMs);
    sock.once("connect", () => {
      clearTimeout(timer);
      resolve(sock);
    });
    sock.once("error", (e) => {
      clearTimeout(timer);
      reject(new HotmountError("GUEST_COMMAND_FAILED", `cannot connect to the qemu-guest-agent channel ${path}: ${e.message}`, { cause: e, hint: HINT }));
    });
  });
}
