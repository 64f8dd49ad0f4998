// The mount registry of one instance: add, remove, list, and teardown, one operation at a time
// (so no slot is double-booked), with the journal written after every state change.
import type { Progress } from "../../drivers/driver.ts";
import { HotmountError, asHotmountError } from "../core/errors.ts";
import { failpoint } from "../core/failpoint.ts";
import { instancePaths } from "../core/paths.ts";
import { guestPathKey, newMountId, normalizeGuestPath, resolveHostPath } from "../core/validate.ts";
import { extendedExpiry, type ExpiryOutcome } from "./grants.ts";
import { addFirstThatFits, rankTransports } from "./transport-choice.ts";
import { type Mount, type MountRequest, MountRequest as MountRequestSchema, type OnExpiry, type Transport, type TransportChoice } from "./api.ts";
import { checkMountPoint, createMountPoint, removeCreatedDir } from "./guest-mount.ts";
import { hostFolderId } from "./host-folder.ts";
import { unmountForRemove } from "./guest-unmount.ts";
import { loadJournal, saveJournal, toMount, type MountRecord } from "./journal.ts";
import type { MountHooks, WatchHooks } from "./mount-hooks.ts";
import { notAppliedRecord, type PersistentMounts } from "./persistent-mounts.ts";
import { deviceTransport } from "./transports/device.ts";
import { reverseSshfsTransport } from "./transports/reverse-sshfs.ts";
import { findStatic, staticRemoveError } from "./static-mounts.ts";
import type { TransportContext, TransportDriver } from "./transports/types.ts";

const RECOVER_TRIES = 3;

const quiet: Progress = () => {};

type AddRequest = MountRequest & { hostPath: string; mountPoint: string; type: Transport; writable: boolean; transportChoice?: TransportChoice };

export class MountService {
  private readonly records = new Map<string, MountRecord>();
  private queue: Promise<unknown> = Promise.resolve();
  private readonly transports: Record<Transport, TransportDriver>;
  /** Static shares (vm start --mount): listed and guarded, never journaled or removed. */
  private statics: Mount[] = [];
  /** See MountHooks; null until the agent wires the event stream in. */
  hooks: MountHooks | null = null;

  /** ctx.bootId: the guest's boot id as last seen (guest-health.ts), recorded with each mount. */
  constructor(private readonly ctx: TransportContext & { bootId?: () => string | null }) {
    const dev = deviceTransport(ctx);
    this.transports = { virtiofs: dev, "9p": dev, "reverse-sshfs": reverseSshfsTransport({ ...ctx, recover: (id, attempt) => this.recover(id, attempt) }) };
    for (const r of loadJournal(this.journalPath)) this.records.set(r.id, r);
  }

  private get journalPath(): string {
    return instancePaths(this.ctx.cfg.name).journal;
  }

  private persist(): void {
    saveJournal(this.journalPath, [...this.records.values()]);
  }

  /** Runs operations one after another; each caller still gets its own result. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => {});
    return run;
  }

  /** Set by the agent: see WatchHooks. */
  watchHooks: WatchHooks | null = null;

  list(): Mount[] {
    const own = [...this.records.values()].map(toMount);
    return [...this.statics, ...(this.watchHooks ? own.map((m) => this.watchHooks!.decorate(m)) : own)];
  }

  setStatic(mounts: Mount[]): void {
    this.statics = mounts;
  }

  allRecords(): MountRecord[] {
    return [...this.records.values()];
  }

  /** Drops a record without touching the VM (reconcile has already cleaned up). */
  forget(id: string): void {
    const rec = this.records.get(id);
    this.records.delete(id);
    this.persist();
    if (rec) this.hooks?.changed("removed", rec);
  }

  find(idOrMountPoint: string): MountRecord | undefined {
    const byId = this.records.get(idOrMountPoint);
    if (byId) return byId;
    // A lookup, not a new mount: "/etc" is simply not found, rather than "refusing to mount over".
    const mp = idOrMountPoint.startsWith("/") ? guestPathKey(idOrMountPoint) : idOrMountPoint;
    return [...this.records.values()].find((r) => r.mountPoint === mp);
  }

  markFailed(id: string, message: string, hint: string): void {
    const r = this.records.get(id);
    if (!r || r.state === "removing") return;
    r.state = "failed";
    r.error = { code: "MOUNT_BROKEN", message, hint };
    this.persist();
    this.hooks?.changed("failed", r);
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
          r.state = "ready";
          delete r.error;
          this.persist();
          this.hooks?.changed("ready", r);
          this.ctx.log.info("mount re-established", { id });
          return true;
        } catch (e) {
          const err = asHotmountError(e);
          this.ctx.log.warn("re-establishing failed", { id, attempt: n + 1, error: err.message });
          if (n + 1 >= tries) {
            r.error = {
              code: "MOUNT_BROKEN",
              message: `${r.error?.message ?? "mount broken"}; re-establishing it failed: ${err.message}`,
              hint: "Remove the mount and add it again.",
            };
            this.persist();
          }
          return false;
        }
      });
      if (!done && n + 1 < tries) setTimeout(() => void once(n + 1), 2000 * (n + 1));
    };
    void once(0);
  }

  add(body: unknown, progress: Progress = quiet): Promise<Mount> {
    const parsed = MountRequestSchema.safeParse(body);
    if (!parsed.success) {
      const first = parsed.error.issues[0];
      throw new HotmountError("INVALID_ARGUMENT", `invalid mount request: ${first?.path.join(".") || "body"}: ${first?.message}`, {
        hint: "Send {hostPath, mountPoint?, type?, writable?} as JSON; see docs/api.schema.json.",
      });
    }
    const req = parsed.data;
    if (!req.hostPath.startsWith("/"))
      throw new HotmountError("INVALID_ARGUMENT", `the host path ${req.hostPath} is not absolute`, {
        hint: "The API takes absolute host paths; the CLI resolves relative ones.",
      });
    // A persistent mount comes back at every vm start: an expired grant must not.
    if (req.persist && req.forSeconds)
      throw new HotmountError("INVALID_ARGUMENT", "a timed grant (--for) cannot also be persistent (--persist)", { hint: "Pass one of them." });
    const hostPath = resolveHostPath(req.hostPath);
    const mountPoint = normalizeGuestPath(req.mountPoint ?? hostPath);
    const type = req.type;
    if (type !== "auto") return this.serial(() => this.doAdd({ ...req, type, hostPath, mountPoint }, progress));
    return this.serial(() => this.addAuto({ ...req, type: "virtiofs", hostPath, mountPoint }, progress));
  }

  /** type auto: the best transport the VM can take now; one that still turns out full is passed over too. */
  private async addAuto(req: AddRequest, progress: Progress): Promise<Mount> {
    const ranking = await rankTransports(this.ctx.session, this.ctx.cfg.ninePSlots ?? 0, [...this.records.values()]);
    return addFirstThatFits(ranking, (type, transportChoice) => this.doAdd({ ...req, type, transportChoice }, progress));
  }

  private async doAdd(req: AddRequest, progress: Progress): Promise<Mount> {
    const dup = [...this.statics, ...this.records.values()].find(
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
    this.records.set(rec.id, rec);
    this.persist();
    this.hooks?.changed("added", rec);
    failpoint("add:journaled");
    let attached = false;
    try {
      if (rec.createdDir) await createMountPoint(ssh, rec.mountPoint);
      await t.attach(rec, progress);
      attached = true;
      this.persist();
      failpoint("add:attached");
      await t.mount(rec, progress);
      failpoint("add:mounted");
      rec.state = "ready";
      rec.bootId = this.ctx.bootId?.() ?? undefined;
      rec.hostId = hostFolderId(rec.hostPath) ?? undefined;
      this.persist();
      this.hooks?.changed("ready", rec);
      if (rec.persist) this.persistent?.remember(rec);
      await this.watchHooks?.ready(rec);
      this.ctx.log.info("mounted", { id: rec.id, type: rec.type, hostPath: rec.hostPath, mountPoint: rec.mountPoint, slot: rec.slot });
      return toMount(rec);
    } catch (e) {
      this.ctx.log.warn("add failed, rolling back", { id: rec.id, error: asHotmountError(e).message });
      if (attached) await t.detach(rec, quiet).catch((err) => this.ctx.log.error("rollback detach failed", { id: rec.id, error: String(err) }));
      if (rec.createdDir) await removeCreatedDir(ssh, rec.mountPoint);
      this.records.delete(rec.id);
      this.persist();
      this.hooks?.changed("failed", { ...rec, state: "failed", error: asHotmountError(e).toJSON() }, e);
      this.hooks?.changed("removed", rec);
      throw e;
    }
  }

  remove(idOrMountPoint: string, opts: { force?: boolean } = {}, progress: Progress = quiet): Promise<void> {
    return this.serial(async () => {
      const rec = this.find(idOrMountPoint);
      const st = rec ? undefined : findStatic(this.statics, idOrMountPoint);
      if (st) throw staticRemoveError(st);
      if (!rec) {
        throw new HotmountError("MOUNT_NOT_FOUND", `no mount ${idOrMountPoint} on instance "${this.ctx.cfg.name}"`, {
          hint: `See \`hotmount mount list ${this.ctx.cfg.name}\`.`,
        });
      }
      await this.doRemove(rec, opts.force ?? false, progress);
      this.persistent?.forget(rec.mountPoint);
    });
  }

  /** Persistent mounts, when the agent wants them kept in the instance config. */
  persistent: PersistentMounts | null = null;

  /** Applies every persistent mount that is not there (VM start, guest reboot). */
  reapplyPersistent(progress: Progress = quiet): Promise<void> {
    return this.serial(async () => {
      for (const p of this.persistent?.list() ?? []) {
        const old = [...this.records.values()].find((r) => r.mountPoint === p.mountPoint);
        if (old?.state === "ready") continue;
        if (old) await this.doRemove(old, true, quiet).catch(() => this.forget(old.id));
        await this.doAdd({ ...p, persist: true }, progress).catch((e) => {
          const err = asHotmountError(e);
          this.ctx.log.warn("could not apply a persistent mount", { mountPoint: p.mountPoint, error: err.message });
          // Keep it visible: a failed record the user can see, remove, or that the next start retries.
          const rec = notAppliedRecord(this.ctx.cfg.name, p, err);
          this.records.set(rec.id, rec);
          this.persist();
        });
      }
    });
  }

  private async doRemove(rec: MountRecord, force: boolean, progress: Progress): Promise<void> {
    const before = rec.state;
    await this.watchHooks?.beforeRemove(rec);
    rec.state = "removing";
    this.persist();
    failpoint("remove:journaled");
    const guest = await this.ctx.guest();
    progress("unmounting in the guest");
    try {
      await unmountForRemove(guest, rec, force);
    } catch (e) {
      const err = asHotmountError(e);
      // Busy: nothing changed, so the mount stays as it was. Otherwise it may be half gone.
      if (err.code === "MOUNT_BUSY") {
        rec.state = before;
        if (before === "ready") await this.watchHooks?.ready(rec);
      } else {
        rec.state = "failed";
        rec.error = { code: err.code, message: err.message, hint: "Retry with --force." };
      }
      this.persist();
      throw e;
    }
    failpoint("remove:unmounted");
    await this.transports[rec.type].detach(rec, progress);
    failpoint("remove:detached");
    if (rec.createdDir) await removeCreatedDir(guest, rec.mountPoint);
    this.records.delete(rec.id);
    this.persist();
    this.hooks?.changed("removed", rec);
    this.ctx.log.info("removed", { id: rec.id, mountPoint: rec.mountPoint });
  }

  /**
   * Brings a mount back at the same path with the same options after a fault (`why`: a guest
   * reboot, a dead backend), in turn with add/remove. `steps` is that fault's way back; the watch
   * stops first and starts again after. Ready → event "restored"; else the mount is failed with
   * why. False when the mount is gone or being removed.
   */
  restore(id: string, why: string, steps: (rec: MountRecord, t: TransportDriver) => Promise<void>): Promise<boolean> {
    return this.serial(async () => {
      const rec = this.records.get(id);
      if (!rec || rec.state === "removing" || rec.state === "adding") return false;
      await this.watchHooks?.beforeRemove(rec).catch(() => {});
      // Journaled as broken while it is brought back: an agent that dies here leaves it failed,
      // and the next one, seeing the same fault, brings it back again.
      rec.state = "failed";
      rec.error = {
        code: "MOUNT_BROKEN",
        message: `${why}; hotmount is bringing it back`,
        hint: "Wait a few seconds; `hotmount mount list` shows when it is ready.",
      };
      this.persist();
      failpoint("restore:begun");
      try {
        await steps(rec, this.transports[rec.type]);
      } catch (e) {
        const err = asHotmountError(e);
        this.markFailed(id, `${why}; bringing it back failed: ${err.message}`, err.hint ?? "Remove it with `hotmount mount remove --force` and add it again.");
        return false;
      }
      rec.state = "ready";
      delete rec.error;
      this.persist();
      this.hooks?.changed("restored", rec, undefined, `${why}: mounted again at ${rec.mountPoint}`);
      this.ctx.log.info("mount restored", { id, why });
      void this.watchHooks?.ready(rec);
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
        rec.state = "ready";
        delete rec.error;
        this.persist();
        this.hooks?.changed("ready", rec);
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
      if (!rec) {
        throw new HotmountError("MOUNT_NOT_FOUND", `no mount ${idOrMountPoint} on instance "${this.ctx.cfg.name}"`, {
          hint: `See \`hotmount mount list ${this.ctx.cfg.name}\`.`,
        });
      }
      rec.expiresAt = extendedExpiry(rec, seconds);
      this.persist();
      this.hooks?.changed("extended", rec);
      return toMount(rec);
    });
  }

  /** Removes a mount whose grant is due (see grants.ts); busy → per its onExpiry. */
  expire(id: string): Promise<ExpiryOutcome> {
    return this.serial(async (): Promise<ExpiryOutcome> => {
      const rec = this.records.get(id);
      if (!rec?.expiresAt || Date.parse(rec.expiresAt) > Date.now()) return { kind: "gone" };
      const onExpiry: OnExpiry = rec.onExpiry ?? "wait";
      try {
        await this.doRemove(rec, false, quiet);
        return { kind: "removed", forced: false };
      } catch (e) {
        const err = asHotmountError(e);
        if (err.code !== "MOUNT_BUSY") return { kind: "error", error: e };
        const holders = ((err.details?.holders ?? err.details?.mountPoints ?? []) as string[]).map(String);
        if (onExpiry === "wait") return { kind: "busy", holders };
        try {
          await this.doRemove(rec, true, quiet);
          return { kind: "removed", forced: true, holders };
        } catch (e2) {
          return { kind: "error", error: e2 };
        }
      }
    });
  }

  /** Removes every mount (vm stop); keeps going past failures and reports the first. */
  teardownAll(progress: Progress = quiet): Promise<void> {
    return this.serial(async () => {
      let first: unknown;
      for (const rec of [...this.records.values()]) {
        progress(`removing ${rec.mountPoint}`);
        await this.doRemove(rec, true, quiet).catch((e) => (first ??= e));
      }
      if (first) this.ctx.log.warn("teardown left errors", { error: asHotmountError(first).message });
    });
  }
}
