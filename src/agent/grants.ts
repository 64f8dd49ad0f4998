// Timed grants: one timer per mount that has an expiry (journal field expiresAt). Timers are
// re-armed from the journal whenever an agent starts, so a grant that ran out while no agent was
// running is carried out at once. At expiry the mount is removed in the normal safe order; if a
// guest process holds it, its onExpiry decides: "wait" retries until it is free, "force" stops
// the holders as `mount remove --force` does. The event stream says which happened.
import type { Logger } from "../core/model.ts";
import { MAX_GRANT_SECONDS } from "../core/duration.ts";
import { asHotmountError, HotmountError } from "../core/errors.ts";
import type { MountRecord } from "./journal.ts";

/** setTimeout holds at most 2^31-1 ms (~24.8 days); longer waits are chained. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export type ExpiryOutcome =
  { kind: "removed"; forced: boolean; holders?: string[] } | { kind: "busy"; holders: string[] } | { kind: "gone" } | { kind: "error"; error: unknown };

export interface GrantTarget {
  /** Removes the mount if its grant is (still) due; says what happened. */
  expire(id: string): Promise<ExpiryOutcome>;
}

/** The expiry of `rec` pushed `seconds` later (from now if overdue), as ISO time; refused beyond a year. */
export function extendedExpiry(rec: Pick<MountRecord, "mountPoint" | "expiresAt">, seconds: number, now = Date.now()): string {
  if (!rec.expiresAt) {
    throw new HotmountError("INVALID_ARGUMENT", `${rec.mountPoint} has no time limit to extend`, {
      hint: "Only a mount added with --for has an expiry; remove it and add it again with --for to limit it.",
    });
  }
  const next = Math.max(Date.parse(rec.expiresAt), now) + seconds * 1000;
  if (next - now > MAX_GRANT_SECONDS * 1000) {
    throw new HotmountError("INVALID_ARGUMENT", "the grant would end more than 366 days from now", { hint: "Extend by less." });
  }
  return new Date(next).toISOString();
}

/**
 * Carries out the expiry of a due grant through `remove` (the normal safe removal, `force` as in
 * `mount remove --force`): a busy mount waits or has its holders stopped, as its onExpiry says.
 */
export async function expireWith(rec: Pick<MountRecord, "onExpiry">, remove: (force: boolean) => Promise<void>): Promise<ExpiryOutcome> {
  try {
    await remove(false);
    return { kind: "removed", forced: false };
  } catch (e) {
    const err = asHotmountError(e);
    if (err.code !== "MOUNT_BUSY") return { kind: "error", error: e };
    const holders = ((err.details?.holders ?? err.details?.mountPoints ?? []) as string[]).map(String);
    if ((rec.onExpiry ?? "wait") === "wait") return { kind: "busy", holders };
    try {
      await remove(true);
      return { kind: "removed", forced: true, holders };
    } catch (e2) {
      return { kind: "error", error: e2 };
    }
  }
}

/** Whether `rec`'s grant is due at `now` (a mount without one never is). */
export function grantDue(rec: Pick<MountRecord, "expiresAt"> | undefined, now = Date.now()): boolean {
  return !!rec?.expiresAt && Date.parse(rec.expiresAt) <= now;
}

export class Grants {
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();

  constructor(
    private readonly target: GrantTarget,
    private readonly log: Logger,
    /** How often an expiry blocked by a busy mount (onExpiry wait) or an error is retried. */
    readonly retryMs = Number(process.env.HOTMOUNT_EXPIRY_RETRY_MS) || 5000,
  ) {}

  /** (Re)schedules the expiry of `rec`; overdue grants run at once. No expiry: nothing to do. */
  arm(rec: Pick<MountRecord, "id" | "expiresAt">): void {
    this.disarm(rec.id);
    if (!rec.expiresAt) return;
    const due = Date.parse(rec.expiresAt);
    this.schedule(rec.id, due, Math.max(0, due - Date.now()));
  }

  armAll(recs: Pick<MountRecord, "id" | "expiresAt">[]): void {
    for (const r of recs) this.arm(r);
  }

  disarm(id: string): void {
    const t = this.timers.get(id);
    if (t) clearTimeout(t);
    this.timers.delete(id);
  }

  stopAll(): void {
    for (const id of [...this.timers.keys()]) this.disarm(id);
  }

  get armed(): number {
    return this.timers.size;
  }

  private schedule(id: string, due: number, delay: number): void {
    const t = setTimeout(
      () => {
        this.timers.delete(id);
        if (Date.now() < due) return this.schedule(id, due, due - Date.now());
        void this.fire(id, due);
      },
      Math.min(delay, MAX_TIMER_MS),
    );
    t.unref?.();
    this.timers.set(id, t);
  }

  private async fire(id: string, due: number): Promise<void> {
    const out = await this.target.expire(id).catch((error: unknown) => ({ kind: "error", error }) as ExpiryOutcome);
    if (out.kind === "busy" || out.kind === "error") {
      if (out.kind === "error") this.log.warn("removing an expired grant failed; retrying", { id, error: asHotmountError(out.error).message });
      if (!this.timers.has(id)) this.schedule(id, due, this.retryMs);
    }
  }
}
