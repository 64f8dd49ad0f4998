// QMP framing over a unix socket: one JSON object per line, both ways. Modelled on
// qemu's python/qemu/qmp/protocol.py, minus asyncio: one socket, one reader, a runstate.
import { createConnection, type Socket } from "node:net";
import { QmpConnectError, QmpDisconnectedError, QmpTimeoutError } from "./errors.ts";

/** Lifecycle of a connection, as in qemu.qmp's Runstate. */
export type Runstate = "idle" | "connecting" | "running" | "disconnecting";

/** Any message on the wire: greeting, reply, or event. Shape checks belong to the client. */
export type QmpMessage = Record<string, unknown>;

const NL = 0x0a;

/**
 * Splits a byte stream into lines with no length limit: a reply such as query-qmp-schema
 * is several hundred KiB on one line. Pieces are kept as a list and joined once per line,
 * so a huge line costs O(n), not O(n^2). Lines are cut on bytes, never inside UTF-8.
 */
export class LineDecoder {
  private parts: Buffer[] = [];
  private size = 0;

  push(chunk: Uint8Array): string[] {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const lines: string[] = [];
    let start = 0;
    for (let nl = buf.indexOf(NL, start); nl !== -1; nl = buf.indexOf(NL, start)) {
      const piece = buf.subarray(start, nl);
      const line = this.parts.length === 0 ? piece : Buffer.concat([...this.parts, piece], this.size + piece.length);
      this.parts = [];
      this.size = 0;
      // QEMU ends lines with \r\n; JSON.parse tolerates the \r, but blank lines are skipped.
      const text = line.toString("utf8").trim();
      if (text !== "") lines.push(text);
      start = nl + 1;
    }
    if (start < buf.length) {
      // Copy: the socket may reuse its buffer after the 'data' handler returns.
      const rest = Buffer.from(buf.subarray(start));
      this.parts.push(rest);
      this.size += rest.length;
    }
    return lines;
  }

  /** Bytes of an unfinished line; non-zero at close means QEMU died mid-message. */
  get pendingBytes(): number {
    return this.size;
  }
}

/** Serialises one message as a line. JSON.stringify never emits a raw newline. */
export function encodeMessage(msg: QmpMessage): string {
  return JSON.stringify(msg) + "\n";
}

export interface TransportHandlers {
  onMessage(msg: QmpMessage): void;
  /** Called exactly once, after the socket is gone; `error` is undefined for our own close(). */
  onClose(error: QmpDisconnectedError | undefined): void;
}

/** One QMP socket: connects, frames lines into messages, writes messages, reports close once. */
export class QmpTransport {
  private socket: Socket | undefined;
  private decoder = new LineDecoder();
  private state: Runstate = "idle";
  private closedByUs = false;
  private fatal: QmpDisconnectedError | undefined;
  private closed: Promise<void> = Promise.resolve();

  constructor(private readonly handlers: TransportHandlers) {}

  get runstate(): Runstate {
    return this.state;
  }

  /** The client calls this once the handshake is done. */
  markRunning(): void {
    if (this.state === "connecting") this.state = "running";
  }

  connect(path: string, timeoutMs: number): Promise<void> {
    if (this.state !== "idle") return Promise.reject(new Error(`QmpTransport.connect in state ${this.state}`));
    this.state = "connecting";
    return new Promise<void>((resolve, reject) => {
      const sock = createConnection({ path });
      let connected = false;
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new QmpTimeoutError(`a connection to ${path}`, timeoutMs));
      }, timeoutMs);
      let onClosed!: () => void;
      this.closed = new Promise<void>((r) => (onClosed = r));
      sock.on("connect", () => {
        connected = true;
        clearTimeout(timer);
        this.socket = sock;
        resolve();
      });
      sock.on("data", (chunk: Buffer) => this.onData(chunk));
      sock.on("error", (err) => {
        if (!connected) {
          clearTimeout(timer);
          reject(new QmpConnectError(path, err));
        } else if (!this.fatal && !this.closedByUs) {
          this.fatal = new QmpDisconnectedError(`the QMP connection to QEMU failed: ${err.message}`, { cause: err });
        }
      });
      sock.on("close", () => {
        onClosed();
        this.socket = undefined;
        this.state = "idle";
        if (!connected) return; // connect() already rejected; the client never saw this socket
        const partial = this.decoder.pendingBytes;
        const error =
          this.fatal ??
          (this.closedByUs
            ? undefined
            : new QmpDisconnectedError(
                partial > 0 ? `QEMU closed the QMP connection in the middle of a message (${partial} bytes)` : "QEMU closed the QMP connection",
              ));
        this.handlers.onClose(error);
      });
    });
  }

  /** Writes one message. Throws QmpDisconnectedError if the socket is not open. */
  send(msg: QmpMessage): void {
    const sock = this.socket;
    if (!sock || sock.destroyed || this.state === "disconnecting" || this.state === "idle") {
      throw new QmpDisconnectedError("cannot send to QEMU: the QMP connection is not open");
    }
    sock.write(encodeMessage(msg));
  }

  /** Ends the connection and waits for the socket to be gone. Safe to call twice. */
  async close(): Promise<void> {
    if (this.socket && this.state !== "disconnecting") {
      this.state = "disconnecting";
      this.closedByUs = true;
      // QEMU needs nothing from us to close cleanly; destroy rather than end so a
      // stopped (SIGSTOP) QEMU cannot keep us waiting on a half-closed socket.
      this.socket.destroy();
    }
    await this.closed;
  }

  /** Kills the connection because QEMU said something we cannot parse. */
  abort(error: QmpDisconnectedError): void {
    if (!this.socket || this.state === "disconnecting") return;
    this.fatal ??= error;
    this.state = "disconnecting";
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    for (const line of this.decoder.push(chunk)) {
      if (this.state === "disconnecting") return; // drop anything after a fatal error
      let msg: unknown;
      try {
        msg = JSON.parse(line);
      } catch (e) {
        this.abort(new QmpDisconnectedError(`QEMU sent a line that is not JSON: ${line.slice(0, 80)}`, { cause: e }));
        return;
      }
      if (msg === null || typeof msg !== "object" || Array.isArray(msg)) {
        this.abort(new QmpDisconnectedError(`QEMU sent a JSON value that is not an object: ${line.slice(0, 80)}`));
        return;
      }
      this.handlers.onMessage(msg as QmpMessage);
    }
  }
}
