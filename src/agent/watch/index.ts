// The agent's watch service: a MountWatch per ready mount that asks for it, one guest helper
// for the instance, started with the first watched mount and ended with the last.
//
// Setting a watch up needs an SSH login into the guest (the helper runs over it), which a guest
// served by qemu-guest-agent alone may not give. So `start` never holds a `mount add` long: it
// waits for the login at most LOGIN_WAIT_MS (a login the agent already knows to fail fails at
// once, see ../ssh-gate.ts) and for the rest at most SETUP_WAIT_MS, then lets the set-up finish in
// the background. A mount that could not be watched keeps its warning (with the fix, for `mount
// list`) and is tried again every RETRY_MS and whenever another mount's set-up finds a login.
import { HotmountError } from "../../core/errors.ts";
import type { Logger } from "../../core/model.ts";
import type { GuestSsh } from "../../guest-exec/ssh-client.ts";
import { GuestHelper } from "./guest-helper.ts";
import { MountWatch, type WatchTarget } from "./mount-watch.ts";

export const LOGIN_WAIT_MS = 2000;
export const SETUP_WAIT_MS = 15_000;
export const RETRY_MS = 15_000;
/** How long `stop` waits for a set-up it cancels before it ends the helper. */
export const STOP_WAIT_MS = 10_000;

/** A set-up under way; `stop` may cancel it. */
interface Starting {
  target: WatchTarget;
  cancelled: boolean;
  /** The helper is taking the mount on (set once the login is there). */
  rooting: Promise<void> | null;
}

/** True when `p` settled within `ms`. */
async function settledWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)));
  try {
    return await Promise.race([
      p.then(
        () => true,
        () => true,
      ),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** One line for `mount list`: the failure and, when it has one, what to do about it. */
export function warningOf(e: unknown): string {
  const msg = (e instanceof Error ? e.message : String(e)).replace(/\.$/, "");
  const hint = e instanceof HotmountError && e.hint ? ` ${e.hint}` : "";
  // A login that works later ends the warning: the watch starts by itself then (retryFailed).
  const login = e instanceof HotmountError && /no SSH login/.test(msg) ? " The watch starts by itself once a login works." : "";
  const off = /--no-watch/.test(hint) ? "" : " Or add the mount with --no-watch.";
  return `host changes are not replayed in the guest: ${msg}.${hint}${login}${off}`.replace(/\s*\n\s*/g, " ");
}

export class WatchService {
  private readonly watches = new Map<string, MountWatch>();
  private readonly starting = new Map<string, Starting>();
  private readonly helper: GuestHelper;
  /** Mounts that asked to be watched but could not be: why (for `mount list`), and what to retry. */
  private readonly failed = new Map<string, { target: WatchTarget; warning: string }>();
  private retryTimer: ReturnType<typeof setInterval> | null = null;

  constructor(
    private readonly ssh: () => Promise<GuestSsh>,
    private readonly log: Logger,
    /** The bounds above; tests shorten them. */
    private readonly waits = { setup: SETUP_WAIT_MS, stop: STOP_WAIT_MS },
  ) {
    this.helper = new GuestHelper(ssh, log);
  }

  /**
   * Starts watching a mount; a failure is logged and leaves the mount working unwatched (with a
   * warning). Resolves when the watch runs or failed, or when the set-up goes on in the background.
   */
  async start(t: WatchTarget): Promise<void> {
    if (this.watches.has(t.id) || this.starting.has(t.id)) return;
    const s: Starting = { target: t, cancelled: false, rooting: null };
    this.starting.set(t.id, s);
    const login = this.ssh();
    const done = this.setUp(s, login).finally(() => this.starting.delete(t.id));
    if (!(await settledWithin(login, LOGIN_WAIT_MS))) {
      this.log.info("the SSH login is slow: the watch is set up in the background", { id: t.id });
      return;
    }
    if (!(await settledWithin(done, this.waits.setup))) this.log.info("the watch set-up is slow: it goes on in the background", { id: t.id });
  }

  private async setUp(s: Starting, login: Promise<GuestSsh>): Promise<void> {
    const t = s.target;
    try {
      await login;
      if (s.cancelled) return;
      s.rooting = this.helper.addRoot(t.mountPoint, t.kinds === true);
      await s.rooting;
      // Stopped meanwhile: stop() waited for the root and lets go of it.
      if (s.cancelled) return;
      this.watches.set(t.id, new MountWatch(t, (lines) => this.helper.batch(lines), this.log));
      const retried = this.failed.delete(t.id);
      this.log.info("watching", { id: t.id, hostPath: t.hostPath, ...(retried && { retried }) });
      this.armRetry();
      // A login that works now: the mounts that found none are tried again.
      if (this.failed.size) void this.retryFailed();
    } catch (e) {
      if (s.cancelled) return;
      const warning = warningOf(e);
      const before = this.failed.get(t.id)?.warning;
      this.failed.set(t.id, { target: t, warning });
      if (warning !== before) this.log.warn("cannot watch this mount", { id: t.id, error: e instanceof Error ? e.message : String(e) });
      this.armRetry();
      if (!this.watches.size && this.starting.size <= 1) await this.helper.close();
    }
  }

  /** Tries the mounts that could not be watched again (a login may work now). */
  async retryFailed(): Promise<void> {
    await Promise.all([...this.failed.values()].map((f) => this.start(f.target)));
  }

  private armRetry(): void {
    if (this.failed.size && !this.retryTimer) {
      this.retryTimer = setInterval(() => void this.retryFailed(), RETRY_MS);
      this.retryTimer.unref?.();
    } else if (!this.failed.size && this.retryTimer) {
      clearInterval(this.retryTimer);
      this.retryTimer = null;
    }
  }

  /** Stops a mount's watch (or its set-up); the guest helper ends with the last one. */
  async stop(id: string): Promise<void> {
    this.failed.delete(id);
    this.armRetry();
    const s = this.starting.get(id);
    if (s) {
      s.cancelled = true;
      // Still logging in: it gives up by itself. Taking the mount on: wait, then let go of it.
      if (s.rooting) {
        let took = false;
        const rooting = s.rooting.then(
          () => (took = true),
          () => false,
        );
        // A helper stuck taking the mount on (its guest side hung) must not hold the remove: after
        // STOP_WAIT_MS it is ended, which fails what it was doing; the next watch starts a new one.
        if (!(await settledWithin(rooting, this.waits.stop))) {
          this.log.warn("the guest watch helper did not take the mount on in time: it is ended", { id });
          await this.helper.close();
          await this.helper.removeRoot(s.target.mountPoint); // not taken on again by the next helper
          if (s.target.kinds) await this.killLayer(s.target.mountPoint);
        } else if (took) await this.helper.removeRoot(s.target.mountPoint);
      }
    }
    const w = this.watches.get(id);
    if (w) {
      this.watches.delete(id);
      w.stop();
      await this.helper.removeRoot(w.target.mountPoint);
    }
    if (!this.watches.size && ![...this.starting.values()].some((o) => !o.cancelled)) await this.helper.close();
  }

  /**
   * SIGKILLs the guest's event-kinds layer process of a mount point: a layer that hangs keeps its
   * helper waiting on it, and ending the layer's FUSE connection lets both exit.
   */
  private async killLayer(mountPoint: string): Promise<void> {
    const script =
      'for p in $(pgrep -f "^watch-helper --layer "); do [ "$(tr "\\0" "\\n" < /proc/$p/cmdline | sed -n 4p)" = "$1" ] && kill -KILL $p; done; true';
    try {
      await (await this.ssh()).exec(["sh", "-c", script, "sh", mountPoint], { timeoutMs: 10_000 });
    } catch (e) {
      this.log.warn("could not end the guest's event-kinds layer", { mountPoint, error: e instanceof Error ? e.message : String(e) });
    }
  }

  /** What `mount list` shows: null when the mount is fully watched (or not watched at all). */
  warning(id: string): string | null {
    return this.watches.get(id)?.warning ?? this.failed.get(id)?.warning ?? null;
  }

  isWatching(id: string): boolean {
    return this.watches.has(id);
  }

  /** Agent exit: the host watches end, and the helper's stdin closes (at most a few seconds). */
  async stopAll(): Promise<void> {
    for (const s of this.starting.values()) s.cancelled = true;
    this.failed.clear();
    this.armRetry();
    for (const w of this.watches.values()) w.stop();
    this.watches.clear();
    await this.helper.close();
  }
}
