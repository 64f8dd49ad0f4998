// The mount registry of one instance: add, remove, restore, expire and teardown, one operation at
// a time (so no slot is double-booked). Requests are checked in mount-request.ts, every state
// change goes through mount-records.ts (journal + hooks), persistent mounts are re-applied by
// persistent-mounts.ts and grant expiry decided in grants.ts; this file runs the flows.
import type { Progress } from "../../drivers/driver.ts";
import { HotmountError, asHotmountError } from "../core/errors.ts";
import { failpoint } from "../core/failpoint.ts";
import { instancePaths } from "../core/paths.ts";
import { guestPathKey } from "../core/validate.ts";
import { newMountId } from "./mount-id.ts";
import { expireWith, extendedExpiry, grantDue, type ExpiryOutcome } from "./grants.ts";
import { addFirstThatFits, rankTransports } from "./transport-choice.ts";
import type { Mount, Transport } from "./api.ts";
import { checkMountPoint, removeCreatedDir } from "./guest-mount.ts";
import { hostFolderId } from "./host-folder.ts";
import { unmountForRemove } from "./guest-unmount.ts";
import { toMount, type MountRecord } from "./journal.ts";
import type { MountHooks } from "./mount-hooks.ts";
import { mountNotFound, parseAddRequest, type AddRequest } from "./mount-request.ts";
import { MountRecords } from "./mount-records.ts";
import { reapplyPersistent, type PersistentMounts } from "./persistent-mounts.ts";
import { deviceTransport } from "./transports/device.ts";
import { reverseSshfsTransport } from "./transports/reverse-sshfs.ts";
import { findStatic, staticRemoveError } from "./static-mounts.ts";
import type { TransportContext, MountTransport } from "./transports/types.ts";
import type { WatchHooks } from "./watch/hooks.ts";

const RECOVER_TRIES = 3;

const quiet: Progress = () => {};

/** Who the service tells, given once at construction; each is optional. */
export interface MountServiceHooks {
  /** Every change of a journaled mount (events, audit, grant timers). */
  changes?: MountHooks;
  /** The file-watch replay around each mount's life. */
  watch?: WatchHooks;
  /** Where `--persist` mounts are kept (the instance config). */
  persistent?: PersistentMounts;
}

export class MountService {
  private readonly records: MountRecords;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly transports: Record<Transport, MountTransport>;
  /** Static shares (vm start --mount): listed and guarded, never journaled or removed. */
  private statics: Mount[] = [];

  /** ctx.bootId: the guest's boot id as last seen (guest-health.ts), recorded with each mount. */
  constructor(
    private readonly ctx: TransportContext & { bootId?: () => string | null },
    private readonly hooks: MountServiceHooks = {},
  ) {
    const dev = deviceTransport(ctx);
    this.transports = { virtiofs: dev, "9p": dev, "reverse-sshfs": reverseSshfsTransport({ ...ctx, recover: (id, attempt) => this.recover(id, attempt) }) };
    this.records = new MountRecords(instancePaths(ctx.cfg.name).journal, hooks.changes ?? null);
  }

  /** Runs operations one after another; each caller still gets its own result. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => {});
    return run;
  }

  list(): Mount[] {
    const own = this.records.all().map(toMount);
    const watch = this.hooks.watch;
    return [...this.statics, ...(watch ? own.map((m) => watch.decorate(m)) : own)];
  }

  setStatic(mounts: Mount[]): void {
    this.statics = mounts;
  }

  allRecords(): MountRecord[] {
    return this.records.all();
  }

  /** Drops a record without touching the VM (reconcile has already cleaned up). */
  forget(id: string): void {
    const rec = this.records.get(id);
    if (rec) this.records.drop(rec);
  }

  find(idOrMountPoint: string): MountRecord | undefined {
    const byId = this.records.get(idOrMountPoint);
    if (byId) return byId;
    // A lookup, not a new mount: "/etc" is simply not found, rather than "refusing to mount over".
    return this.records.byMountPoint(idOrMountPoint.startsWith("/") ? guestPathKey(idOrMountPoint) : idOrMountPoint);
  }

  markFailed(id: string, message: string, hint: string): void {
    const r = this.records.get(id);
    if (!r || r.state === "removing") return;
    this.records.transition(r, "failed", { change: "failed", error: { code: "MOUNT_BROKEN", message, hint } });
    this.ctx.log.warn("mount failed", { id, message });
  }

  /** Re-establishes a failed mount (transport-specific `attempt`), in turn with add/remove. */
  recover(id: string, attempt: () => Promise<void>, tries = RECOVER_TRIES): void {
    const once = async (n: number): Promise<void> => {
      const done = await this.serial(async () => {
        const r = this.records.get(id);
        if (!r || r.state !== "failed") return true; // removed (or recovered) meanwhile
        try {
          await attempt();
          this.records.transition(r, "ready", { change: "ready", error: null });
          this.ctx.log.info("mount re-established", { id });
          return true;
        } catch (e) {
          const err = asHotmountError(e);
          this.ctx.log.warn("re-establishing failed", { id, attempt: n + 1, error: err.message });
          if (n + 1 >= tries) {
            const message = `${r.error?.message ?? "mount broken"}; re-establishing it failed: ${err.message}`;
            this.records.transition(r, r.state, { error: { code: "MOUNT_BROKEN", message, hint: "Remove the mount and add it again." } });
          }
          return false;
        }
      });
      if (!done && n + 1 < tries) setTimeout(() => void once(n + 1), 2000 * (n + 1));
    };
    void once(0);
  }

  add(body: unknown, progress: Progress = quiet): Promise<Mount> {
    const { req, auto } = parseAddRequest(body);
    return this.serial(() => (auto ? this.addAuto(req, progress) : this.doAdd(req, progress)));
  }

  /** type auto: the best transport the VM can take now; one that still turns out full is passed over too. */
  private async addAuto(req: AddRequest, progress: Progress): Promise<Mount> {
    const ranking = await rankTransports(this.ctx.session, this.ctx.cfg.ninePSlots ?? 0, this.records.all());
    return addFirstThatFits(ranking, (type, transportChoice) => this.doAdd({ ...req, type, transportChoice }, progress));
  }

  private async doAdd(req: AddRequest, progress: Progress): Promise<Mount> {
    const dup = [...this.statics, ...this.records.all()].find(
      (r) => r.mountPoint === req.mountPoint || r.mountPoint.startsWith(req.mountPoint + "/") || req.mountPoint.startsWith(r.mountPoint + "/"),
    );
    if (dup) {
      throw new HotmountError("MOUNT_CONFLICT", `${req.mountPoint} overlaps the mount ${dup.id} at ${dup.mountPoint}`, {
        hint: `Pick another guest path, or remove it first: \`hotmount mount remove ${this.ctx.cfg.name} ${dup.mountPoint}\`.`,
      });
    }
    const rec: MountRecord = {
      id: newMountId(),
      instance: this.ctx.cfg.name,
      hostPath: req.hostPath,
      mountPoint: req.mountPoint,
      type: req.type,
      writable: req.writable,
      persist: req.persist ?? false,
      watch: req.watch ?? true,
      ...(req.watch !== false && req.watchKinds && { watchKinds: true }),
      state: "adding",
      createdAt: new Date().toISOString(),
      createdDir: false,
      ...(req.forSeconds && { expiresAt: new Date(Date.now() + req.forSeconds * 1000).toISOString(), onExpiry: req.onExpiry ?? "wait" }),
      ...(req.transportChoice && { transportChoice: req.transportChoice }),
    };
    const t = this.transports[req.type];
    const ssh = await this.ctx.guest();
    progress("preparing the guest folder");
    rec.createdDir = await checkMountPoint(ssh, rec.mountPoint);
    this.records.add(rec, "added");
    failpoint("add:journaled");
    let attached = false;
    try {
      await t.attach(rec, progress);
      attached = true;
      this.records.save();
      failpoint("add:attached");
      await t.mount(rec, progress, { mkdir: rec.createdDir });
      failpoint("add:mounted");
      rec.bootId = this.ctx.bootId?.() ?? undefined;
      rec.hostId = hostFolderId(rec.hostPath) ?? undefined;
      this.records.transition(rec, "ready", { change: "ready" });
      if (rec.persist) this.hooks.persistent?.remember(rec);
      await this.hooks.watch?.ready(rec);
      this.ctx.log.info("mounted", { id: rec.id, type: rec.type, hostPath: rec.hostPath, mountPoint: rec.mountPoint, slot: rec.slot });
      return toMount(rec);
    } catch (e) {
      this.ctx.log.warn("add failed, rolling back", { id: rec.id, error: asHotmountError(e).message });
      if (attached) await t.detach(rec, quiet).catch((err) => this.ctx.log.error("rollback detach failed", { id: rec.id, error: String(err) }));
      if (rec.createdDir) await removeCreatedDir(ssh, rec.mountPoint);
      this.records.drop(rec, true);
      this.records.tell("failed", { ...rec, state: "failed", error: asHotmountError(e).toJSON() }, e);
      this.records.tell("removed", rec);
      throw e;
    }
  }

  remove(idOrMountPoint: string, opts: { force?: boolean } = {}, progress: Progress = quiet): Promise<void> {
    return this.serial(async () => {
      const rec = this.find(idOrMountPoint);
      const st = rec ? undefined : findStatic(this.statics, idOrMountPoint);
      if (st) throw staticRemoveError(st);
      if (!rec) throw mountNotFound(this.ctx.cfg.name, idOrMountPoint);
      await this.doRemove(rec, opts.force ?? false, progress);
      this.hooks.persistent?.forget(rec.mountPoint);
    });
  }

  /** Applies every persistent mount that is not there (VM start, guest reboot). */
  reapplyPersistent(progress: Progress = quiet): Promise<void> {
    return this.serial(() =>
      reapplyPersistent(this.hooks.persistent?.list() ?? [], {
        instance: this.ctx.cfg.name,
        log: this.ctx.log,
        existing: (mp) => this.records.byMountPoint(mp),
        clear: (old) => this.doRemove(old, true, quiet).catch(() => this.forget(old.id)),
        add: (p) => this.doAdd({ ...p, persist: true }, progress),
        keep: (rec) => this.records.add(rec),
      }),
    );
  }

  private async doRemove(rec: MountRecord, force: boolean, progress: Progress): Promise<void> {
    const before = rec.state;
    await this.hooks.watch?.beforeRemove(rec);
    this.records.transition(rec, "removing");
    failpoint("remove:journaled");
    const guest = await this.ctx.guest();
    progress("unmounting in the guest");
    let dirGone = false;
    try {
      dirGone = await unmountForRemove(guest, rec, force, { rmdir: rec.createdDir });
    } catch (e) {
      const err = asHotmountError(e);
      // Busy: nothing changed, so the mount stays as it was. Otherwise it may be half gone.
      if (err.code === "MOUNT_BUSY") {
        this.records.transition(rec, before);
        if (before === "ready") await this.hooks.watch?.ready(rec);
      } else {
        this.records.transition(rec, "failed", { error: { code: err.code, message: err.message, hint: "Retry with --force." } });
      }
      throw e;
    }
    failpoint("remove:unmounted");
    await this.transports[rec.type].detach(rec, progress);
    failpoint("remove:detached");
    if (rec.createdDir && !dirGone) await removeCreatedDir(guest, rec.mountPoint);
    this.records.drop(rec);
    this.ctx.log.info("removed", { id: rec.id, mountPoint: rec.mountPoint });
  }

  /**
   * Brings a mount back at the same path with the same options after a fault (`why`: a guest
   * reboot, a dead backend), in turn with add/remove. `steps` is that fault's way back; the watch
   * stops first and starts again after. Ready → event "restored"; else the mount is failed with
   * why. False when the mount is gone or being removed.
   */
  restore(id: string, why: string, steps: (rec: MountRecord, t: MountTransport) => Promise<void>): Promise<boolean> {
    return this.serial(async () => {
      const rec = this.records.get(id);
      if (!rec || rec.state === "removing" || rec.state === "adding") return false;
      await this.hooks.watch?.beforeRemove(rec).catch(() => {});
      // Journaled as broken while it is brought back: an agent that dies here leaves it failed,
      // and the next one, seeing the same fault, brings it back again.
      this.records.transition(rec, "failed", {
        error: {
          code: "MOUNT_BROKEN",
          message: `${why}; hotmount is bringing it back`,
          hint: "Wait a few seconds; `hotmount mount list` shows when it is ready.",
        },
      });
      failpoint("restore:begun");
      try {
        await steps(rec, this.transports[rec.type]);
      } catch (e) {
        const err = asHotmountError(e);
        this.markFailed(id, `${why}; bringing it back failed: ${err.message}`, err.hint ?? "Remove it with `hotmount mount remove --force` and add it again.");
        return false;
      }
      this.records.transition(rec, "ready", { change: "restored", error: null, note: `${why}: mounted again at ${rec.mountPoint}` });
      this.ctx.log.info("mount restored", { id, why });
      void this.hooks.watch?.ready(rec);
      return true;
    });
  }

  /** Brings a mount back whose session died with the previous agent (reverse-sshfs). */
  reattach(rec: MountRecord): Promise<void> {
    return this.serial(async () => {
      const t = this.transports[rec.type];
      try {
        if (!t.reestablish) throw new HotmountError("INTERNAL", `a ${rec.type} mount has no session to re-establish`);
        await t.reestablish(rec);
        this.records.transition(rec, "ready", { change: "ready", error: null });
      } catch (e) {
        this.markFailed(rec.id, `could not re-establish: ${asHotmountError(e).message}`, "Remove it and add it again.");
        throw e;
      }
    });
  }

  /** Pushes a timed grant's expiry later by `seconds` (from now if it is already overdue). */
  extend(idOrMountPoint: string, seconds: number): Promise<Mount> {
    return this.serial(async () => {
      const rec = this.find(idOrMountPoint);
      if (!rec) throw mountNotFound(this.ctx.cfg.name, idOrMountPoint);
      rec.expiresAt = extendedExpiry(rec, seconds);
      this.records.transition(rec, rec.state, { change: "extended" });
      return toMount(rec);
    });
  }

  /** Removes a mount whose grant is due (see grants.ts); busy → per its onExpiry. */
  expire(id: string): Promise<ExpiryOutcome> {
    return this.serial(async (): Promise<ExpiryOutcome> => {
      const rec = this.records.get(id);
      if (!rec || !grantDue(rec)) return { kind: "gone" };
      return expireWith(rec, (force) => this.doRemove(rec, force, quiet));
    });
  }

  /** Removes every mount (vm stop); keeps going past failures and reports the first. */
  teardownAll(progress: Progress = quiet): Promise<void> {
    return this.serial(async () => {
      let first: unknown;
      for (const rec of this.records.all()) {
        progress(`removing ${rec.mountPoint}`);
        await this.doRemove(rec, true, quiet).catch((e) => (first ??= e));
      }
      if (first) this.ctx.log.warn("teardown left errors", { error: asHotmountError(first).message });
    });
  }
}
