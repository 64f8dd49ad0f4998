// The event-kinds lines of one flush (`--watch=kinds`, docs/watch.md): which paths the host
// created, deleted or renamed, as the helper's C, X and M commands. A deleted path whose inode
// (known from its last state) is a created path's is a rename. Deletes go deepest first, creates
// shallowest first, so a folder is made before its entries and emptied before it goes.
import type { Stats } from "node:fs";
import { basename, dirname } from "node:path";
import { escapePath } from "./mount-watch.ts";

const depth = (p: string) => p.split("/").length;
/** The helper's M line separates its two paths with a space, so a space in them is escaped. */
const field = (p: string) => escapePath(p).replace(/ /g, "\\ ");

export class KindsBatch {
  private readonly made_ = new Map<string, Stats>();
  private readonly gone_ = new Map<string, { dir: boolean; ino: number | null }>();

  /** The host watcher reports a watched folder's own removal as `dir/<its name>` (Bun's fs.watch): that is no entry of it. */
  private selfEvent(path: string, ino: number | null): boolean {
    const parent = dirname(path);
    return ino === null && basename(path) === basename(parent) && this.gone_.has(parent);
  }

  /** The host made `path` (it did not exist in the last state the guest was told of). */
  made(path: string, st: Stats): void {
    this.made_.set(path, st);
  }

  /** The host removed `path`; `before` is its last known state (a mount-watch sig), if any; `folder`: the host watcher had it as a folder. */
  gone(path: string, before: string | undefined, folder: boolean): void {
    const [, , mode, ino] = (before ?? "").split(":");
    this.gone_.set(path, { dir: folder || (mode !== undefined && (Number(mode) & 0o170000) === 0o040000), ino: ino ? Number(ino) : null });
  }

  /** The C, X and M lines, with host paths turned into guest paths (null: outside the mount). */
  lines(guest: (hostPath: string) => string | null): string[] {
    const moves: string[] = [];
    for (const [from, g] of this.gone_) {
      if (g.ino === null) continue;
      const to = [...this.made_].find(([, st]) => st.ino === g.ino)?.[0];
      const a = guest(from);
      const b = to && guest(to);
      if (!to || !a || !b) continue;
      moves.push(`M ${field(a)} ${field(b)}`);
      this.gone_.delete(from);
      this.made_.delete(to);
    }
    const out: string[] = [];
    for (const [p, g] of [...this.gone_].sort((x, y) => depth(y[0]) - depth(x[0]))) {
      if (this.selfEvent(p, g.ino)) continue;
      const gp = guest(p);
      if (gp) out.push(`X ${g.dir ? "d" : "f"} ${escapePath(gp)}`);
    }
    out.push(...moves);
    for (const p of [...this.made_.keys()].sort((x, y) => depth(x) - depth(y))) {
      const gp = guest(p);
      if (gp) out.push(`C ${escapePath(gp)}`);
    }
    return out;
  }
}
