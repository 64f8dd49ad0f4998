// What the list keys do in either pane, and the instances pane's own keys: Enter goes to the
// selected instance's mounts; d explains that removing happens in the mounts pane.
import type { AppAction } from "./app-state.ts";
import type { IntentIn, KeyHandlers } from "./keymap.ts";

/** Rows a list intent moves the selection by (±Infinity: to an end). */
export function moveDelta(intent: IntentIn<"list">, pageRows: number): number {
  switch (intent) {
    case "up":
      return -1;
    case "down":
      return 1;
    case "page-up":
      return -Math.max(1, pageRows);
    case "page-down":
      return Math.max(1, pageRows);
    case "first":
      return -Infinity;
    case "last":
      return Infinity;
  }
}

export interface InstancesPaneKeyDeps {
  dispatch: (a: AppAction) => void;
  pageRows: number;
  explainRemove: () => void;
}

export const instancesPaneKeys: KeyHandlers<"instances" | "list", InstancesPaneKeyDeps> = {
  instances: {
    "to-mounts": (d) => d.dispatch({ type: "focus", focus: "mounts" }),
    remove: (d) => d.explainRemove(),
  },
  list: {
    up: move,
    down: move,
    "page-up": move,
    "page-down": move,
    first: move,
    last: move,
  },
};

function move(d: InstancesPaneKeyDeps, intent: IntentIn<"list">): void {
  d.dispatch({ type: "instances/move", delta: moveDelta(intent, d.pageRows) });
}
