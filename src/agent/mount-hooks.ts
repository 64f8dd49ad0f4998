// What the mount registry tells the rest of the agent as each journaled mount changes: the
// activity feed (events, audit log, grant timers) implements it, so that MountService knows
// nothing of it. The file-watch replay's hooks are declared where they are implemented
// (watch/hooks.ts).
import type { MountRecord } from "./journal.ts";

/** "restored": ready again at the same path after a fault (guest reboot, dead backend). */
export type MountChange = "added" | "ready" | "restored" | "failed" | "removed" | "extended";

/** Told about every change of a journaled mount (event stream, grant timers); set by the agent. */
export interface MountHooks {
  /** `error`: why it failed; `note`: what happened, in words (a restore says what it recovered from). */
  changed(kind: MountChange, rec: MountRecord, error?: unknown, note?: string): void;
}
