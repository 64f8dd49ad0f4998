// One long-lived `virsh` per libvirt URI for the agent's burst of libvirt calls (a mount add is
// about ten: XML reads, attach, guest commands through qemu-agent-command), instead of a new
// virsh process, connection and authentication each. It drives virsh's interactive shell over
// stdin: each command is followed by `echo --err MARK` and `echo MARK`, so its stdout and stderr
// end where the marks appear (readline echoes each command line first, ending in a newline; a
// mark starting with "--" would be read as an option by libvirt 11). A command that writes an
// "error:" line failed. The shell closes after a short idle time, and a command that outlasts
// its bound kills it (the next one starts a fresh shell); an argument the shell cannot carry (a
// newline) goes through a one-off virsh as before.
import type { Subprocess } from "bun";
import { virsh, type VirshResult } from "./virsh.ts";

const IDLE_CLOSE_MS = 10_000;
const DEFAULT_TIMEOUT_MS = 30_000;
const SAFE = /^[A-Za-z0-9_\-.,:/=@+%]+$/;

/** An argument as virsh's own command parser reads it back (single quotes, as in sh). */
export function virshQuote(arg: string): string {
  return SAFE.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

interface Pending {
  mark: string;
  /** The command line as written to the shell, which virsh echoes before the output. */
  line: string;
  resolve(r: VirshResult): void;
}

export class VirshShell {
  private proc: Subprocess<"pipe", "pipe", "pipe"> | null = null;
  private out = "";
  private err = "";
  private pending: Pending | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private idle: ReturnType<typeof setTimeout> | null = null;
  private seq = 0;

  constructor(readonly uri: string) {}

  /** Like virsh(uri, args): resolves with an exit code (0, 1 on an "error:" line, 124 on timeout), never throws on failure. */
  run(args: readonly string[], opts: { timeoutMs?: number } = {}): Promise<VirshResult> {
    if (args.some((a) => /[\n\r]/.test(a))) return virsh(this.uri, args, opts);
    const next = this.queue.then(() => this.one(args, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS));
    this.queue = next.catch(() => {});
    return next;
  }

  close(): void {
    if (this.idle) clearTimeout(this.idle);
    this.idle = null;
    const p = this.proc;
    this.proc = null;
    if (!p) return;
    try {
      p.stdin.end();
    } catch {}
    p.kill("SIGKILL");
  }

  private start(): Subprocess<"pipe", "pipe", "pipe"> {
    const p = Bun.spawn(["virsh", "-q", "-c", this.uri], {
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
      // TERM=dumb: readline echoes a long command on one line (horizontal scrolling), never wrapped.
      env: { ...process.env, LC_ALL: "C", LIBVIRT_AUTOSTART: "0", TERM: "dumb" },
    });
    p.unref();
    this.out = "";
    this.err = "";
    const pump = async (s: ReadableStream<Uint8Array>, add: (t: string) => void) => {
      const dec = new TextDecoder();
      for await (const chunk of s) {
        add(dec.decode(chunk, { stream: true }));
        if (this.proc === p) this.settle();
      }
    };
    // A shell that was closed may still flush a last chunk: only the current one's text counts.
    void pump(p.stdout, (t) => this.proc === p && (this.out += t)).catch(() => {});
    void pump(p.stderr, (t) => this.proc === p && (this.err += t)).catch(() => {});
    void p.exited.then(() => {
      if (this.proc !== p) return;
      this.proc = null;
      this.pending?.resolve({ code: 1, stdout: "", stderr: `error: virsh exited\n${this.err}` });
      this.pending = null;
    });
    return p;
  }

  private one(args: readonly string[], timeoutMs: number): Promise<VirshResult> {
    if (this.idle) clearTimeout(this.idle);
    this.idle = null;
    if (!this.proc) this.proc = this.start();
    const proc = this.proc;
    const mark = `hotmount.mark.${process.pid}.${++this.seq}`;
    return new Promise<VirshResult>((resolve) => {
      const timer = setTimeout(() => {
        if (this.pending?.mark !== mark) return;
        this.pending = null;
        if (this.proc === proc) this.close();
        resolve({ code: 124, stdout: "", stderr: "(virsh timed out)" });
      }, timeoutMs);
      const line = args.map(virshQuote).join(" ");
      this.pending = {
        mark,
        line,
        resolve: (r) => {
          clearTimeout(timer);
          this.idle = setTimeout(() => this.close(), IDLE_CLOSE_MS);
          this.idle.unref?.();
          resolve(r);
        },
      };
      proc.stdin.write(`${line}\necho --err ${mark}\necho ${mark}\n`);
      proc.stdin.flush();
    });
  }

  /** Completes the pending command once both of its marks are in. */
  private settle(): void {
    const p = this.pending;
    if (!p) return;
    const outEnd = this.out.indexOf(`\n${p.mark}`);
    const errMark = `error: ${p.mark}\n`;
    const errEnd = this.err.indexOf(errMark);
    if (outEnd < 0 || errEnd < 0) return;
    const chunk = this.out.slice(0, outEnd + 1);
    this.out = this.out.slice(outEnd + 1 + p.mark.length);
    const stderr = this.err.slice(0, errEnd);
    this.err = this.err.slice(errEnd + errMark.length);
    // The chunk: the echoed command line, the output, then the echoed `echo --err` and `echo` lines.
    // A fresh shell may print a line of its own before the echo: the output starts after the echo.
    const echo = chunk.indexOf(`${p.line}\n`);
    const start = echo >= 0 ? echo + p.line.length + 1 : chunk.indexOf("\n") + 1;
    const body = chunk.slice(start).replace(/virsh # echo --err \S+\nvirsh # echo \S+\n$/, "");
    this.pending = null;
    p.resolve({ code: /^error:/m.test(stderr) ? 1 : 0, stdout: body, stderr });
  }
}

const shells = new Map<string, VirshShell>();

/** This process's shell for a URI (the agent's; a CLI process keeps using one-off virsh). */
export function virshShell(uri: string): VirshShell {
  let s = shells.get(uri);
  if (!s) shells.set(uri, (s = new VirshShell(uri)));
  return s;
}

let enabled = false;

/** Called by the agent, a long-running process: its libvirt calls then go through one shell per URI. */
export function enableVirshShells(): void {
  enabled = true;
}

/** How this process runs virsh for a URI: the shared shell in the agent, a one-off virsh elsewhere. */
export function virshRunner(uri: string): (args: readonly string[], opts?: { timeoutMs?: number }) => Promise<VirshResult> {
  if (!enabled) return (args, opts) => virsh(uri, args, opts);
  const s = virshShell(uri);
  return (args, opts) => s.run(args, opts);
}
