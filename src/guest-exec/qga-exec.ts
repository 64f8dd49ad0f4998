// GuestExec over qemu-guest-agent. One per channel socket in this process: it holds one QGA
// connection for a burst of commands and lets go of it after a short idle time, because QEMU
// serves a single client per channel and others (a second agent run, tests, an operator with
// socat) must get their turn.
import { QgaClient } from "./qga-client.ts";
import type { ExecOptions, ExecResult } from "./ssh-client.ts";
import { checkExit, type GuestExec } from "./types.ts";

const IDLE_CLOSE_MS = 1500;
/** Connect + sync for a command (a probe uses its own, shorter budget). */
const CONNECT_MS = 5000;

export class QgaGuestExec implements GuestExec {
  readonly via = "qga" as const;
  private client: QgaClient | null = null;
  private connecting: Promise<QgaClient> | null = null;
  private active = 0;
  private idleTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    readonly socketPath: string,
    private readonly idleMs = IDLE_CLOSE_MS,
  ) {}

  /** Null when qemu-guest-agent answers a ping within timeoutMs; otherwise why not. */
  async probe(timeoutMs: number): Promise<string | null> {
    const end = Date.now() + timeoutMs;
    try {
      await this.use((c) => c.ping(Math.max(1, end - Date.now())), timeoutMs);
      return null;
    } catch (e) {
      this.drop();
      return e instanceof Error ? e.message : String(e);
    }
  }

  exec(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    // QGA runs everything as root: opts.root needs no sudo here.
    return this.use((c) => c.exec(argv, { timeoutMs: opts.timeoutMs }), CONNECT_MS);
  }

  async run(argv: readonly string[], opts: ExecOptions = {}): Promise<string> {
    return checkExit(argv, await this.exec(argv, opts));
  }

  close(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    this.drop();
  }

  private async use<T>(fn: (c: QgaClient) => Promise<T>, connectMs: number): Promise<T> {
    this.active++;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    try {
      const c = await this.connection(connectMs);
      try {
        return await fn(c);
      } finally {
        if (c.isClosed && this.client === c) this.client = null;
      }
    } finally {
      if (--this.active === 0) {
        this.idleTimer = setTimeout(() => this.drop(), this.idleMs);
        this.idleTimer.unref?.();
      }
    }
  }

  private connection(timeoutMs: number): Promise<QgaClient> {
    if (this.client && !this.client.isClosed) return Promise.resolve(this.client);
    this.connecting ??= QgaClient.connect(this.socketPath, { timeoutMs })
      .then((c) => (this.client = c))
      .finally(() => (this.connecting = null));
    return this.connecting;
  }

  private drop(): void {
    this.client?.close();
    this.client = null;
  }
}

const bySocket = new Map<string, QgaGuestExec>();

/** The one QgaGuestExec of this process for a channel socket. */
export function qgaExecFor(socketPath: string): QgaGuestExec {
  let q = bySocket.get(socketPath);
  if (!q) bySocket.set(socketPath, (q = new QgaGuestExec(socketPath)));
  return q;
}
