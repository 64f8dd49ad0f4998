// The QMP client, after qemu's python/qemu/qmp/qmp_client.py: greeting, qmp_capabilities,
// then one reader that routes replies by id to a pending map and events to listeners.
import { EventListener, waitForEvent, type EventFilter, type QmpEvent, type WaitForEventOptions } from "./events.ts";
import { QmpDisconnectedError, QmpExecuteError, QmpNegotiationError, QmpTimeoutError } from "./errors.ts";
import { QmpTransport, type QmpMessage, type Runstate } from "./protocol.ts";

export interface QmpGreeting {
  version: { qemu: { major: number; minor: number; micro: number }; package: string };
  capabilities: string[];
}

export interface ConnectOptions {
  /** Budget for connect + greeting + qmp_capabilities. Default 10 s. */
  timeoutMs?: number;
}

export interface ExecuteOptions {
  /** Reject with QmpTimeoutError after this long; the command may still run in QEMU. Default 30 s. */
  timeoutMs?: number;
}

interface Pending {
  command: string;
  args: unknown;
  resolve(value: unknown): void;
  reject(err: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

export type DisconnectCallback = (error: QmpDisconnectedError | undefined) => void;

const DEFAULT_CONNECT_MS = 10_000;
const DEFAULT_EXECUTE_MS = 30_000;

export class QmpClient {
  private transport: QmpTransport;
  private pending = new Map<string, Pending>();
  private listeners = new Set<EventListener>();
  private disconnectCbs = new Set<DisconnectCallback>();
  private nextId = 1;
  // The first message is the greeting; it is captured by route() even if it arrives before
  // connect() starts waiting for it.
  private greetingSeen = false;
  private greetingMsg = Promise.withResolvers<QmpMessage>();
  private endedWith: QmpDisconnectedError | undefined;
  /** What onDisconnect callbacks receive: undefined when we closed, the reason otherwise. */
  private disconnectReport: QmpDisconnectedError | undefined;
  private closedByUs = false;
  private _greeting: QmpGreeting | undefined;

  private constructor(readonly socketPath: string) {
    this.transport = new QmpTransport({
      onMessage: (msg) => this.route(msg),
      onClose: (err) => this.onClosed(err),
    });
  }

  /** Connects, reads the greeting and leaves capabilities negotiation mode. */
  static async connect(socketPath: string, opts: ConnectOptions = {}): Promise<QmpClient> {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_CONNECT_MS;
    const deadline = Date.now() + timeoutMs;
    const left = () => Math.max(1, deadline - Date.now());
    const client = new QmpClient(socketPath);
    client.greetingMsg.promise.catch(() => {}); // rejected on early hang-up; reported via readGreeting
    await client.transport.connect(socketPath, timeoutMs);
    try {
      const greeting = await client.readGreeting(left(), timeoutMs);
      client._greeting = greeting;
      try {
        // Events are only sent after this; so no listener can miss one before connect returns.
        await client.execute("qmp_capabilities", undefined, { timeoutMs: left() });
      } catch (e) {
        if (e instanceof QmpExecuteError) throw new QmpNegotiationError(`qmp_capabilities failed: ${e.desc}`, { cause: e });
        throw e;
      }
      client.transport.markRunning();
      return client;
    } catch (e) {
      await client.transport.close();
      if (e instanceof QmpDisconnectedError) {
        throw new QmpNegotiationError(`QEMU hung up on ${socketPath} during the QMP handshake`, { cause: e });
      }
      if (e instanceof QmpTimeoutError) {
        throw new QmpTimeoutError(
          `the QMP greeting/handshake on ${socketPath}`,
          timeoutMs,
          "Another client may hold this QMP socket (QEMU serves one at a time); close it, or check the VM is not stuck.",
        );
      }
      throw e;
    }
  }

  /** The greeting QEMU sent: its version and offered capabilities. */
  get greeting(): QmpGreeting {
    if (!this._greeting) throw new QmpNegotiationError("no QMP greeting was received");
    return this._greeting;
  }

  get runstate(): Runstate {
    return this.transport.runstate;
  }

  get isConnected(): boolean {
    return this.transport.runstate === "running";
  }

  /** Runs one command. Resolves with its "return" value; rejects with a QmpError. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>, opts: ExecuteOptions = {}): Promise<T> {
    if (this.endedWith) return Promise.reject(this.endedWith);
    const id = `hm-${this.nextId++}`;
    const timeoutMs = opts.timeoutMs ?? DEFAULT_EXECUTE_MS;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        // A late reply for this id is dropped by route(); QEMU may still finish the command.
        this.pending.delete(id);
        reject(new QmpTimeoutError(`QEMU's reply to ${command}`, timeoutMs));
      }, timeoutMs);
      this.pending.set(id, { command, args, resolve: resolve as (v: unknown) => void, reject, timer });
      try {
        this.transport.send(args === undefined ? { execute: command, id } : { execute: command, arguments: args, id });
      } catch (e) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(e);
      }
    });
  }

  /** A new listener for `names` (or every event); see EventListener. Close it when done. */
  listen(names: string[] | "*", filter?: EventFilter): EventListener {
    const l = new EventListener(names, filter, (x) => this.listeners.delete(x));
    if (this.endedWith) l.end(this.endedWith);
    else this.listeners.add(l);
    return l;
  }

  /** See waitForEvent in events.ts. */
  waitForEvent(name: string, predicate: EventFilter, trigger: () => Promise<unknown>, opts: WaitForEventOptions): Promise<QmpEvent> {
    return waitForEvent(this, name, predicate, trigger, opts);
  }

  /** Called once when the connection ends: with an error if QEMU went away, undefined after close(). */
  onDisconnect(cb: DisconnectCallback): () => void {
    if (this.endedWith) queueMicrotask(() => cb(this.disconnectReport));
    else this.disconnectCbs.add(cb);
    return () => this.disconnectCbs.delete(cb);
  }

  /** Closes the connection; pending calls reject with QmpDisconnectedError. QEMU keeps running. */
  async close(): Promise<void> {
    this.closedByUs = true;
    await this.transport.close();
  }

  /** Waits for the first message, which must be the greeting (route() captures it). */
  private async readGreeting(timeoutMs: number, budgetMs: number): Promise<QmpGreeting> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new QmpTimeoutError("the QMP greeting", budgetMs)), timeoutMs);
    });
    try {
      const msg = await Promise.race([this.greetingMsg.promise, timeout]);
      const g = msg.QMP as QmpGreeting | undefined;
      if (!g || typeof g !== "object" || !g.version?.qemu) {
        throw new QmpNegotiationError(`expected a QMP greeting, got ${JSON.stringify(msg).slice(0, 80)}`);
      }
      return { version: g.version, capabilities: Array.isArray(g.capabilities) ? g.capabilities : [] };
    } finally {
      clearTimeout(timer);
    }
  }

  /** The single reader: every message from QEMU passes through here. */
  private route(msg: QmpMessage): void {
    if (!this.greetingSeen) {
      this.greetingSeen = true;
      return this.greetingMsg.resolve(msg);
    }
    if (typeof msg.event === "string") {
      const ev = msg as unknown as QmpEvent;
      for (const l of this.listeners) if (l.accepts(ev)) l.push(ev);
      return;
    }
    if (!("return" in msg) && !("error" in msg)) return; // e.g. a stray greeting: nothing to route
    if (typeof msg.id !== "string") {
      // QEMU only omits the id when it could not parse our command: no call can be matched,
      // so (as qemu.qmp does) treat it as a broken stream rather than let a call hang.
      const desc = (msg.error as { desc?: string } | undefined)?.desc ?? JSON.stringify(msg).slice(0, 80);
      this.transport.abort(new QmpDisconnectedError(`QEMU sent a reply without id: ${desc}`));
      return;
    }
    const p = this.pending.get(msg.id);
    if (!p) return; // reply to a call that already timed out
    this.pending.delete(msg.id);
    clearTimeout(p.timer);
    if ("error" in msg) {
      const err = (msg.error ?? {}) as { class?: string; desc?: string };
      p.reject(new QmpExecuteError(p.command, err.class ?? "GenericError", err.desc ?? "unknown error", p.args));
    } else p.resolve(msg.return);
  }

  private onClosed(err: QmpDisconnectedError | undefined): void {
    const reason =
      err ??
      new QmpDisconnectedError("the QMP connection was closed by hotmount", {
        hint: "Reconnect with QmpClient.connect before sending more commands.",
      });
    this.endedWith = reason;
    this.disconnectReport = this.closedByUs ? undefined : reason;
    this.greetingMsg.reject(reason); // no-op once the greeting has arrived
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(new QmpDisconnectedError(`${reason.message} while waiting for the reply to ${p.command}`, { cause: reason }));
    }
    for (const l of [...this.listeners]) l.end(reason);
    for (const cb of this.disconnectCbs) {
      try {
        cb(this.disconnectReport);
      } catch {
        // a callback's failure must not stop the others from hearing about the disconnect
      }
    }
    this.disconnectCbs.clear();
  }
}
