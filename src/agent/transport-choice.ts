// `--type auto`: virtiofs when the VM can take one more, else 9p, else reverse-sshfs. The order
// comes from the session's own report (transports(): shared memory, virtiofsd, reserved 9p
// backends) and its slot capacity; each better transport that is passed over keeps its reason,
// and the Mount reply carries them (transportChoice).
import { asFSHotPlugger, type DriverSession } from "../../drivers/driver.ts";
import { asHotmountError, HotmountError } from "../core/errors.ts";
import type { Transport, TransportChoice } from "./api.ts";

export interface Ranking {
  /** Usable transports, best first; reverse-sshfs is always last. */
  order: Transport[];
  /** Transports that cannot be used now, with the reason. */
  skipped: TransportChoice["skipped"];
}

export async function rankTransports(session: DriverSession, ninePSlots: number, mounts: { type: Transport; state: string }[]): Promise<Ranking> {
  const hp = asFSHotPlugger(session);
  const skipped: Ranking["skipped"] = [];
  const order: Transport[] = [];
  if (!hp) {
    const reason = `the ${session.driver} driver cannot hot-plug devices`;
    skipped.push({ type: "virtiofs", reason }, { type: "9p", reason });
    return { order: ["reverse-sshfs"], skipped };
  }
  const [avail, cap] = await Promise.all([hp.transports(), hp.capacity()]);
  const free = cap.total - cap.used;
  const noSlot = `no free hot-plug slot (${cap.used} of ${cap.total} in use)`;
  for (const type of ["virtiofs", "9p"] as const) {
    const a = avail.find((t) => t.type === type);
    if (!a?.available) skipped.push({ type, reason: a?.reason ?? `the VM cannot take ${type}` });
    else if (free <= 0) skipped.push({ type, reason: noSlot });
    else if (type === "9p" && mounts.filter((m) => m.type === "9p").length >= ninePSlots)
      skipped.push({ type, reason: `all ${ninePSlots} reserved 9p slots are in use` });
    else order.push(type);
  }
  order.push("reverse-sshfs");
  return { order, skipped };
}

/**
 * Tries the ranked transports in order; one that still turns out full or unsupported is passed
 * over with its reason, and the last one's error is the caller's.
 */
export async function addFirstThatFits<T>(ranking: Ranking, attempt: (type: Transport, choice: TransportChoice) => Promise<T>): Promise<T> {
  const { order, skipped } = ranking;
  for (const [i, type] of order.entries()) {
    try {
      return await attempt(type, { requested: "auto", chosen: type, skipped: [...skipped] });
    } catch (e) {
      const err = asHotmountError(e);
      if (i === order.length - 1 || (err.code !== "NO_FREE_SLOT" && err.code !== "UNSUPPORTED")) throw e;
      skipped.push({ type, reason: err.message });
    }
  }
  throw new HotmountError("INTERNAL", "no transport to try");
}
