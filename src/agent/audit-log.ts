// The per-instance audit log: who added, removed, extended a mount, which grant expired, what
// failed and what reconcile found, appended as JSON lines (HistoryRecord) to
// instancePaths().history and rotated at 1 MiB keeping one older file. `hotmount mount history`
// reads it without the agent, so it also answers for a stopped VM.
import { instancePaths } from "../core/paths.ts";
import { asHotmountError } from "../core/errors.ts";
import { HistoryRecord, Transport, type ClientIdentity, type HistoryAction, type Mount } from "./api.ts";
import { DEFAULT_MAX_BYTES, JsonlLog } from "./jsonl-log.ts";

export const AGENT: ClientIdentity = { source: "agent", uid: process.getuid?.(), pid: process.pid };

/** Client identity from the x-hotmount-client header (JSON {uid, pid, command}); never trusted for access. */
export function identityFromHeader(raw: string | null): ClientIdentity {
  if (!raw || raw.length > 8192) return { source: "unknown" };
  try {
    const j = JSON.parse(raw) as Record<string, unknown>;
    const int = (v: unknown) => (Number.isSafeInteger(v) ? (v as number) : undefined);
    const command = Array.isArray(j.command)
      ? j.command
          .filter((a): a is string => typeof a === "string")
          .slice(0, 64)
          .map((a) => a.slice(0, 512))
      : undefined;
    return { source: "header", uid: int(j.uid), pid: int(j.pid), command };
  } catch {
    return { source: "unknown" };
  }
}

/** A field from a request body may be anything: keep strings, cut short. */
const str = (v: unknown): string | undefined => (typeof v === "string" && v ? v.slice(0, 4096) : undefined);

export class AuditLog {
  private readonly log: JsonlLog;

  constructor(
    readonly instance: string,
    maxBytes = Number(process.env.HOTMOUNT_HISTORY_MAX_BYTES) || DEFAULT_MAX_BYTES,
  ) {
    this.log = new JsonlLog(instancePaths(instance).history, maxBytes);
  }

  record(action: HistoryAction, who: ClientIdentity, m: Partial<Mount> | undefined, outcome: { error?: unknown; message?: string } = {}): void {
    const rec: HistoryRecord = {
      time: new Date().toISOString(),
      instance: this.instance,
      action,
      outcome: outcome.error === undefined ? "ok" : "error",
      who,
      ...(str(m?.id) && { mountId: str(m?.id) }),
      ...(str(m?.mountPoint) && { mountPoint: str(m?.mountPoint) }),
      ...(str(m?.hostPath) && { hostPath: str(m?.hostPath) }),
      ...(Transport.safeParse(m?.type).success && { type: m!.type }),
      ...(typeof m?.writable === "boolean" && { writable: m.writable }),
      ...(str(m?.expiresAt) && { expiresAt: str(m?.expiresAt) }),
      ...(outcome.message && { message: outcome.message }),
      ...(outcome.error !== undefined && { error: asHotmountError(outcome.error).toJSON() }),
    };
    try {
      this.log.append(rec);
    } catch {
      // An audit write that fails (disk full) must not undo a mount the user already has.
    }
  }
}

/** Every kept record of one instance, oldest first (the rotated file, then the current one). */
export function readHistory(instance: string): HistoryRecord[] {
  const out: HistoryRecord[] = [];
  for (const line of new JsonlLog(instancePaths(instance).history).readAll()) {
    const r = HistoryRecord.safeParse(line);
    if (r.success) out.push(r.data);
  }
  return out;
}
