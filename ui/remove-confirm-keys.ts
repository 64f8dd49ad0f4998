// What the remove dialog's keys do, phase by phase: confirm, then (when a guest process holds the
// mount) force or keep, then after a failure retry or close. While the removal runs no key acts.
import type { KeyHandlers } from "./keymap.ts";
import type { RemoveConfirmState } from "./remove-confirm-state.ts";

export type RemoveScope = "remove" | "remove-busy" | "remove-failed";

export function removeConfirmScopes(s: RemoveConfirmState): RemoveScope[] {
  switch (s.phase) {
    case "confirm":
      return ["remove"];
    case "busy":
      return ["remove-busy"];
    case "failed":
      return ["remove-failed"];
    case "working":
      return [];
  }
}

export interface RemoveConfirmKeyDeps {
  onRemove: (force: boolean) => void;
  onCancel: () => void;
}

export const removeConfirmKeys: KeyHandlers<RemoveScope, RemoveConfirmKeyDeps> = {
  remove: { remove: (d) => d.onRemove(false), cancel: (d) => d.onCancel() },
  "remove-busy": { force: (d) => d.onRemove(true), cancel: (d) => d.onCancel() },
  "remove-failed": { retry: (d) => d.onRemove(false), cancel: (d) => d.onCancel() },
};
