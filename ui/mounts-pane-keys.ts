// What the list keys and the mounts pane's own key (d/Delete: remove) do while it has focus.
import type { AppAction } from "./app-state.ts";
import { moveDelta } from "./instances-pane-keys.ts";
import type { IntentIn, KeyHandlers } from "./keymap.ts";

export interface MountsPaneKeyDeps {
  dispatch: (a: AppAction) => void;
  pageRows: number;
  openRemove: () => void;
}

export const mountsPaneKeys: KeyHandlers<"mounts" | "list", MountsPaneKeyDeps> = {
  mounts: { remove: (d) => d.openRemove() },
  list: {
    up: move,
    down: move,
    "page-up": move,
    "page-down": move,
    first: move,
    last: move,
  },
};

function move(d: MountsPaneKeyDeps, intent: IntentIn<"list">): void {
  d.dispatch({ type: "mounts/move", delta: moveDelta(intent, d.pageRows) });
}
