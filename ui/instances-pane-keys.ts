// Keys of the instances pane when it has focus: moving the selection, Enter to its mounts.
import type { Key } from "ink";
import type { AppAction } from "./app-state.ts";

/** Rows a key moves the cursor by, or null if it is not a movement key. */
export function moveDelta(input: string, key: Key, pageRows: number): number | null {
  if (key.upArrow || input === "k") return -1;
  if (key.downArrow || input === "j") return 1;
  if (key.pageUp) return -Math.max(1, pageRows);
  if (key.pageDown) return Math.max(1, pageRows);
  if (key.home || input === "g") return -Infinity;
  if (key.end || input === "G") return Infinity;
  return null;
}

export function instancesKeyAction(input: string, key: Key, pageRows: number): AppAction | null {
  const d = moveDelta(input, key, pageRows);
  if (d !== null) return { type: "instances/move", delta: d };
  if (key.return) return { type: "focus", focus: "mounts" };
  return null;
}

/** Handles a key if it is one of the pane's; false lets the main keys have it. */
export function handleInstancesPaneKey(input: string, key: Key, pageRows: number, dispatch: (a: AppAction) => void): boolean {
  const a = instancesKeyAction(input, key, pageRows);
  if (a) dispatch(a);
  return a !== null;
}
