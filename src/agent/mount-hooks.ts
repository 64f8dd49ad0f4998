// What the mount registry tells the rest of the agent as mounts come and go: the file-watch
// replay (watch/) and the activity feed (events, audit log, grant timers). Two small interfaces,
// so that MountService knows neither of them.
import type { Mount } from "./api.ts";
import type { MountRecord } from "./journal.ts";

/** Called around a mount's life: watching starts once it is ready and stops before it goes. */
export interface WatchHooks {
  ready(rec: MountRecord): Promise<void>;
  beforeRemove(rec: MountRecord): Promise<void>;
  /** Adds live state to a listed mount (e.g. a watch warning). */
  decorate(m: Mount): Mount;
}

/** "restored": ready again at the same path after a fault (guest reboot, dead backend). */
export type MountChange = "added" | "ready" | "restored" | "failed" | "removed" | "extended";

/** Told about every change of a journaled mount (event stream, grant timers); set by the agent. */
export interface MountHooks {
  /** `error`: why it failed; `note`: what happened, in words (a restore says what it recovered from). */
  changed(kind: MountChange, rec: MountRecord, error?: unknown, note?: string): void;
}
