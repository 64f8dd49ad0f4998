// State of the remove dialog: confirm, then the removal, then (when a guest process holds the
// mount) the refusal with its reason and the offer to force a lazy unmount.
import type { Mount } from "../src/agent/api.ts";
import type { ErrorView } from "./error-view.ts";

export type RemovePhase = "confirm" | "working" | "busy" | "failed";

export interface RemoveConfirmState {
  instance: string;
  mount: Pick<Mount, "id" | "hostPath" | "mountPoint" | "type">;
  phase: RemovePhase;
  /** Whether the request in flight (or the last one) was forced. */
  force: boolean;
  error: ErrorView | null;
}

export type RemoveConfirmAction = { type: "remove/start"; force: boolean } | { type: "remove/failed"; error: ErrorView };

export function createRemoveConfirmState(instance: string, mount: RemoveConfirmState["mount"]): RemoveConfirmState {
  return { instance, mount, phase: "confirm", force: false, error: null };
}

export function removeConfirmReducer(s: RemoveConfirmState, a: RemoveConfirmAction): RemoveConfirmState {
  switch (a.type) {
    case "remove/start":
      return s.phase === "working" ? s : { ...s, phase: "working", force: a.force, error: null };
    case "remove/failed":
      // Only an unforced removal can be refused as busy; forcing is the answer to that refusal.
      return { ...s, phase: a.error.code === "MOUNT_BUSY" && !s.force ? "busy" : "failed", error: a.error };
  }
}
