// One mount's watch: host events are coalesced (a quiet period, with a cap on how long a busy
// stream waits), each changed path is looked at once per flush, and the result goes to the guest
// helper as commands (see guest-helper/main.c for the protocol, docs/watch.md for the events).
//
// No echo, two rules:
//  - here: a path whose state (size, mtime, mode, inode) is what the guest was last told about is
//    not sent again, so the host events raised by a replay itself (its same-value chmod) stop here;
//  - in the guest: the helper watches the mount, and skips a command for a path a guest process
//    changed to exactly the state the host reports (same size and mtime second).
// No storm: pending paths are a set (a path changed 100 times is sent once), capped; past the cap
// only folders are recorded; one batch is in flight at a time, so the agent's memory stays bounded
// however slow the guest is.
import { lstatSync, type Stats } from "node:fs";
import { dirname, relative } from "node:path";
import type { Logger } from "../../core/model.ts";
import { isTracing } from "../../core/trace.ts";
import { HostWatcher, type HostEventKind } from "./host-watcher.ts";
import { KindsBatch } from "./kinds-batch.ts";

export const QUIET_MS = 15;
export const MAX_WAIT_MS = 150;
const MAX_PENDING = 20_000;
const MAX_KNOWN = 200_000;
/** A burst: this many paths in one flush, or BURST_RECENT within BURST_WINDOW_MS (a burst is flushed in pieces while the guest is busy). */
const BURST_PATHS = 100;
const BURST_RECENT = 300;
const BURST_WINDOW_MS = 3000;
const CHUNK_LINES = 500;

export interface WatchTarget {
  id: string;
  hostPath: string;
  mountPoint: string;
  writable: boolean;
  /** Event kinds (`--watch=kinds`): creates, deletes and renames go to the guest as C, X, M lines. */
  kinds?: boolean;
}

/** Sends a batch of command lines; resolves when the guest has done them all (with the guest's own ms, when it says). */
export type SendBatch = (lines: string[]) => Promise<number | null | void>;

/** Wall-clock ms with a fraction (another process on this host can compare it with its own). */
const wallMs = () => performance.timeOrigin + performance.now();

export const escapePath = (p: string) => p.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");

export function sig(st: Stats | null): string {
  return st ? `${st.size}:${st.mtimeMs}:${st.mode}:${st.ino}` : "-";
}

function stat(p: string): Stats | null {
  try {
    return lstatSync(p, { bigint: false });
  } catch {
    return null;
  }
}

export class MountWatch {
  private readonly watcher: HostWatcher;
  private pending = new Map<string, HostEventKind>();
  private overflowDirs = new Set<string>();
  private readonly known = new Map<string, string>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private firstAt = 0;
  private busy = false;
  private stopped = false;
  private lastWarning: string | null = null;
  private recent: Array<{ at: number; n: number }> = [];
  /** Replayed commands so far (for the log and tests). */
  sent = 0;
  /** HOTMOUNT_TRACE=1: one "watch flush" log line per flush, with the time of each hop. */
  private readonly tracing = isTracing();
  /** When the oldest pending host event came (wall ms), for the trace. */
  private pendingSince = 0;

  constructor(
    readonly target: WatchTarget,
    private readonly send: SendBatch,
    private readonly log: Logger,
  ) {
    this.watcher = new HostWatcher(target.hostPath, (k, p) => this.onEvent(k, p));
    this.checkWarning();
  }

  get warning(): string | null {
    return this.watcher.warning;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.watcher.close();
  }

  private checkWarning(): void {
    const w = this.watcher.warning;
    if (w && w !== this.lastWarning) this.log.warn("host watch degraded", { id: this.target.id, warning: w });
    this.lastWarning = w;
  }

  private onEvent(kind: HostEventKind, path: string): void {
    if (this.stopped) return;
    if (this.tracing && !this.pending.size && !this.overflowDirs.size) this.pendingSince = wallMs();
    if (this.pending.size < MAX_PENDING) {
      if (this.pending.get(path) !== "rename") this.pending.set(path, kind);
    } else {
      this.overflowDirs.add(dirname(path));
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.busy || this.stopped) return;
    const now = Date.now();
    if (!this.timer) this.firstAt = now;
    else clearTimeout(this.timer);
    const wait = Math.max(0, Math.min(QUIET_MS, this.firstAt + MAX_WAIT_MS - now));
    this.timer = setTimeout(() => void this.flush(), wait);
  }

  private guestPath(hostPath: string): string | null {
    const rel = relative(this.target.hostPath, hostPath);
    if (rel.startsWith("..")) return null;
    return rel ? `${this.target.mountPoint === "/" ? "" : this.target.mountPoint}/${rel}` : this.target.mountPoint;
  }

  private remember(path: string, s: string): void {
    this.known.delete(path);
    this.known.set(path, s);
    if (this.known.size > MAX_KNOWN) {
      let drop = MAX_KNOWN / 2;
      for (const k of this.known.keys()) {
        this.known.delete(k);
        if (--drop <= 0) break;
      }
    }
  }

  private inBurst(n: number): boolean {
    const now = Date.now();
    this.recent = this.recent.filter((r) => now - r.at < BURST_WINDOW_MS);
    this.recent.push({ at: now, n });
    return n > BURST_PATHS || this.recent.reduce((a, r) => a + r.n, 0) > BURST_RECENT;
  }

  private async flush(): Promise<void> {
    this.timer = null;
    if (this.stopped) return;
    const flushAt = this.tracing ? wallMs() : 0;
    const eventAt = this.pendingSince;
    const batch = this.pending;
    const overflow = this.overflowDirs;
    this.pending = new Map();
    this.overflowDirs = new Set();
    // A burst: fewer guest round trips per file (no IN_MODIFY on virtiofs; see docs/watch.md).
    const mode = this.target.writable ? (this.inBurst(batch.size) ? "b" : "w") : "r";
    const files: string[] = [];
    const dirs = new Set<string>();
    const root = this.target.hostPath;
    const kinds = this.target.kinds ? new KindsBatch() : null;
    for (const d of overflow) dirs.add(d);
    for (const [path, kind] of batch) {
      const st = stat(path);
      const before = this.known.get(path);
      if (kind === "rename" && path !== root) dirs.add(dirname(path));
      if (!st) {
        // Gone: its delete (or rename away) is reported here. Also when this flush holds only a
        // change for it (the replay's own chmod echoing back, say) and the host's delete event
        // has not been read yet: this records the path as gone, so that event finds nothing to report.
        if (kinds && before !== "-" && (kind === "rename" || before !== undefined) && path !== root) kinds.gone(path, before, this.watcher.isFolder(path));
        if (kind === "rename") this.watcher.dropTree(path);
        this.remember(path, "-");
        continue;
      }
      if (kinds && kind === "rename" && (before === undefined || before === "-") && path !== root) kinds.made(path, st);
      const s = sig(st);
      if (this.known.get(path) === s && kind === "change") continue;
      this.remember(path, s);
      if (st.isDirectory()) {
        if (kind === "rename") this.watcher.addTree(path);
        dirs.add(path);
      } else if (st.isFile()) {
        const g = this.guestPath(path);
        if (g) files.push(`F ${mode} ${st.size} ${Math.floor(st.mtimeMs / 1000)} ${mtimeNs(path)} ${escapePath(g)}`);
      }
    }
    const lines: string[] = kinds ? kinds.lines((p) => this.guestPath(p)) : [];
    for (const d of dirs) {
      const st = stat(d);
      const g = this.guestPath(d);
      if (!st?.isDirectory() || !g) continue;
      this.remember(d, sig(st));
      lines.push(`D ${mode} ${Math.floor(st.mtimeMs / 1000)} ${escapePath(g)}`);
    }
    lines.push(...files);
    this.checkWarning();
    if (!lines.length) return;
    this.busy = true;
    try {
      // In chunks, so that a stop (the mount is being removed) is never queued behind thousands.
      const sentAt = this.tracing ? wallMs() : 0;
      let guestMs = 0;
      for (let i = 0; i < lines.length && !this.stopped; i += CHUNK_LINES) {
        const chunk = lines.slice(i, i + CHUNK_LINES);
        guestMs += (await this.send(chunk)) ?? 0;
        this.sent += chunk.length;
      }
      if (this.tracing) {
        const doneAt = wallMs();
        // A few of the paths, so that a benchmark can find the flush of the change it made.
        const paths = lines.slice(0, 4).map((l) => l.slice(l.lastIndexOf(" ") + 1));
        this.log.info("watch flush", { id: this.target.id, eventAt, flushAt, sentAt, doneAt, guestMs, lines: lines.length, paths });
      }
    } catch (e) {
      this.log.warn("watch replay failed", { id: this.target.id, error: e instanceof Error ? e.message : String(e) });
    } finally {
      this.busy = false;
      if (this.pending.size || this.overflowDirs.size) this.schedule();
    }
  }
}

/** The mtime's nanoseconds, which the guest compares before it dates a file back (see the helper). */
function mtimeNs(path: string): string {
  try {
    return String(lstatSync(path, { bigint: true }).mtimeNs % 1_000_000_000n);
  } catch {
    return "0";
  }
}
