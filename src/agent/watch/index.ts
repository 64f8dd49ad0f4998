// The agent's watch service: a MountWatch per ready mount that asks for it, one guest helper
// for the instance, started with the first watched mount and ended with the last.
import type { Logger } from "../../core/model.ts";
import type { GuestSsh } from "../../guest-exec/ssh-client.ts";
import { GuestHelper } from "./guest-helper.ts";
import { MountWatch, type WatchTarget } from "./mount-watch.ts";

export class WatchService {
  private readonly watches = new Map<string, MountWatch>();
  private readonly helper: GuestHelper;
  /** Mounts that asked to be watched but could not be: why, for `mount list`. */
  private readonly failed = new Map<string, string>();

  constructor(
    ssh: () => Promise<GuestSsh>,
    private readonly log: Logger,
  ) {
    this.helper = new GuestHelper(ssh, log);
  }

  /** Starts watching a mount; a failure is logged and leaves the mount working unwatched. */
  async start(t: WatchTarget): Promise<void> {
    if (this.watches.has(t.id)) return;
    try {
      await this.helper.addRoot(t.mountPoint);
      this.watches.set(t.id, new MountWatch(t, (lines) => this.helper.batch(lines), this.log));
      this.log.info("watching", { id: t.id, hostPath: t.hostPath });
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      this.failed.set(t.id, `host changes are not replayed in the guest: ${why}`);
      this.log.warn("cannot watch this mount", { id: t.id, error: why });
      if (!this.watches.size) await this.helper.close();
    }
  }

  /** Stops a mount's watch; the guest helper ends with the last one. */
  async stop(id: string): Promise<void> {
    this.failed.delete(id);
    const w = this.watches.get(id);
    if (!w) return;
    this.watches.delete(id);
    w.stop();
    await this.helper.removeRoot(w.target.mountPoint);
    if (!this.watches.size) await this.helper.close();
  }

  /** What `mount list` shows: null when the mount is fully watched (or not watched at all). */
  warning(id: string): string | null {
    return this.watches.get(id)?.warning ?? this.failed.get(id) ?? null;
  }

  isWatching(id: string): boolean {
    return this.watches.has(id);
  }

  /** Agent exit: the host watches end, and the helper's stdin closes (at most a few seconds). */
  async stopAll(): Promise<void> {
    for (const w of this.watches.values()) w.stop();
    this.watches.clear();
    await this.helper.close();
  }
}
