// Watches one host folder tree: one inotify watch per folder (Node's fs.watch, non-recursive, so
// the count is ours to bound). When the host's fs.inotify.max_user_watches is reached (ENOSPC),
// or the tree has more folders than the budget, the folders that fit stay watched and the rest
// are counted and reported: watching degrades, never silently.
import { type FSWatcher, readdirSync, readFileSync, watch } from "node:fs";
import { join } from "node:path";

export type HostEventKind = "rename" | "change";

/** The host's inotify watch limit for this user, when the system tells it. */
export function maxUserWatches(): number | null {
  try {
    return Number(readFileSync("/proc/sys/fs/inotify/max_user_watches", "utf8").trim()) || null;
  } catch {
    return null;
  }
}

export class HostWatcher {
  private readonly watchers = new Map<string, FSWatcher>();
  /** Folders left unwatched because the limit was reached. */
  private skipped = new Set<string>();
  private limitHit: "budget" | "ENOSPC" | null = null;
  private closed = false;

  constructor(
    readonly root: string,
    private readonly onEvent: (kind: HostEventKind, path: string) => void,
    /** At most this many folders (a test lowers it); the kernel's limit applies as well. */
    private readonly budget = Number(process.env.HOTMOUNT_WATCH_MAX_DIRS) || Infinity,
  ) {
    this.addTree(root);
  }

  get watched(): number {
    return this.watchers.size;
  }

  /** Null while every folder is watched; else what is missing and why, for `mount list` and the log. */
  get warning(): string | null {
    if (!this.limitHit || !this.skipped.size) return null;
    const why =
      this.limitHit === "ENOSPC"
        ? `the host's inotify watch limit is reached (fs.inotify.max_user_watches = ${maxUserWatches() ?? "?"})`
        : `the watch budget (${this.budget} folders) is reached`;
    return `watching ${this.watchers.size} of ${this.watchers.size + this.skipped.size} folders: ${why}; host changes in the other folders are not replayed in the guest`;
  }

  /** Watches `dir` and every folder below it (a new folder, or the whole tree at start). */
  addTree(dir: string): void {
    const queue = [dir];
    while (queue.length && !this.closed) {
      const d = queue.shift()!;
      if (!this.addOne(d)) continue;
      let entries;
      try {
        entries = readdirSync(d, { withFileTypes: true });
      } catch {
        continue;
      }
      for (const e of entries) if (e.isDirectory()) queue.push(join(d, e.name));
    }
  }

  /** True while `dir` is a watched (or, over the budget, counted) folder. */
  isFolder(dir: string): boolean {
    return this.watchers.has(dir) || this.skipped.has(dir);
  }

  /** Stops watching a folder that is gone (and everything under it). */
  dropTree(dir: string): void {
    for (const [d, w] of this.watchers) {
      if (d === dir || d.startsWith(dir + "/")) {
        w.close();
        this.watchers.delete(d);
      }
    }
    for (const d of this.skipped) if (d === dir || d.startsWith(dir + "/")) this.skipped.delete(d);
  }

  close(): void {
    this.closed = true;
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
  }

  private addOne(dir: string): boolean {
    if (this.watchers.has(dir)) return true;
    if (this.watchers.size >= this.budget) {
      this.limitHit ??= "budget";
      this.skipped.add(dir);
      return true; // keep walking: the count of what is missing must be right
    }
    try {
      const w = watch(dir, { persistent: false }, (kind, name) => {
        if (name === null || name === undefined) return;
        const n = String(name);
        // Events on the watched folder itself carry its own name (Bun); children carry theirs.
        this.onEvent(kind as HostEventKind, n === "" ? dir : join(dir, n));
      });
      w.on("error", () => {
        w.close();
        this.watchers.delete(dir);
      });
      this.watchers.set(dir, w);
      this.skipped.delete(dir);
      return true;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOSPC" || code === "EMFILE") {
        this.limitHit = "ENOSPC";
        this.skipped.add(dir);
        return true;
      }
      return false; // gone, or not readable: nothing to watch there
    }
  }
}
