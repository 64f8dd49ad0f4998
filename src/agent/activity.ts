// What the agent tells the outside about its mounts: the event stream, the audit log and the
// grant timers, fed from one place (the hooks MountService is built with), so that every path that changes a
// mount (API call, expiry, reconcile, a backend dying) is seen the same way.
import { asHotmountError } from "../core/errors.ts";
import { instancePaths } from "../core/paths.ts";
import type { Logger } from "../core/model.ts";
import { AGENT, AuditLog } from "./audit-log.ts";
import { EventHub } from "./events.ts";
import { Grants, type ExpiryOutcome } from "./grants.ts";
import { toMount, type MountRecord } from "./journal.ts";
import type { MountChange, MountHooks } from "./mount-hooks.ts";

/** What the activity needs of the mount service: its records and the removal of a due grant. */
export interface ActivityTarget {
  allRecords(): MountRecord[];
  expire(id: string): Promise<ExpiryOutcome>;
}

export class Activity implements MountHooks {
  readonly events: EventHub;
  readonly audit: AuditLog;
  readonly grants: Grants;
  /** Grants whose expiry is waiting for a busy mount: said once, not at every retry. */
  private readonly waiting = new Set<string>();

  constructor(
    private readonly service: ActivityTarget,
    instance: string,
    log: Logger,
  ) {
    this.events = new EventHub(instance, instancePaths(instance).events);
    this.audit = new AuditLog(instance);
    this.grants = new Grants({ expire: (id) => this.expire(id) }, log);
  }

  changed(kind: MountChange, rec: MountRecord, error?: unknown, note?: string): void {
    const base = { mountId: rec.id, mountPoint: rec.mountPoint };
    switch (kind) {
      case "added":
        this.events.emit("mount-added", { ...base, mount: toMount(rec) });
        break;
      case "ready":
        this.events.emit("mount-ready", { ...base, mount: toMount(rec) });
        this.grants.arm(rec);
        break;
      case "restored":
        this.events.emit("mount-restored", { ...base, mount: toMount(rec), ...(note && { message: note }) });
        this.audit.record("restore", AGENT, rec, { message: note });
        this.grants.arm(rec);
        break;
      case "failed": {
        const err = error === undefined ? rec.error : asHotmountError(error).toJSON();
        this.events.emit("mount-failed", { ...base, mount: toMount(rec), ...(err && { error: err, message: err.message }) });
        // A failure on its own (backend died, guest rebooted) has no requester to audit it.
        if (error === undefined) this.audit.record("fail", AGENT, rec, { error: rec.error, message: rec.error?.message });
        break;
      }
      case "removed":
        this.grants.disarm(rec.id);
        this.events.emit("mount-removed", base);
        break;
      case "extended":
        this.events.emit("mount-extended", { ...base, mount: toMount(rec), message: `expires at ${rec.expiresAt}` });
        this.grants.arm(rec);
        break;
    }
  }

  /** After reconcile: every remaining grant gets its timer; overdue ones run at once. */
  armGrants(): void {
    this.grants.armAll(this.service.allRecords());
  }

  private async expire(id: string): Promise<ExpiryOutcome> {
    const rec = this.service.allRecords().find((r) => r.id === id);
    const out = await this.service.expire(id);
    if (!rec) return out;
    const base = { mountId: rec.id, mountPoint: rec.mountPoint };
    const held = (h?: string[]) => (h?.length ? ` (held by ${h.join(", ")})` : "");
    if (out.kind !== "busy") this.waiting.delete(id);
    if (out.kind === "removed") {
      const message = out.forced
        ? `grant expired while busy${held(out.holders)}: the holders were stopped and it was removed (on-expiry force)`
        : "grant expired: removed";
      this.events.emit("mount-expired", { ...base, message });
      this.audit.record("expire", AGENT, rec, { message });
    } else if (out.kind === "busy" && !this.waiting.has(id)) {
      this.waiting.add(id);
      const message = `grant expired but the mount is busy${held(out.holders)}: retrying every ${Math.round(this.grants.retryMs / 1000)}s (on-expiry wait)`;
      this.events.emit("expiry-waiting", { ...base, message });
      this.audit.record("expire", AGENT, rec, { message });
    } else if (out.kind === "error") {
      const err = asHotmountError(out.error);
      this.events.emit("mount-failed", { ...base, message: `removing the expired grant failed: ${err.message}`, error: err.toJSON() });
      this.audit.record("expire", AGENT, rec, { error: out.error });
    }
    return out;
  }
}
