// Keys of the mounts pane when it has focus: moving the selection, d/Delete to remove.
import type { Key } from "ink";
import type { AppAction } from "./app-state.ts";
import { moveDelta } from "./instances-pane-keys.ts";

export type MountsIntent = { kind: "remove" } | { kind: "action"; action: AppAction };

export function mountsIntent(input: string, key: Key, pageRows: number): MountsIntent | null {
  const d = moveDelta(input, key, pageRows);
  if (d !== null) return { kind: "action", action: { type: "mounts/move", delta: d } };
  if (input === "d" || key.delete) return { kind: "remove" };
  return null;
}

/** Handles a key if it is one of the pane's; false lets the main keys have it. */
export function handleMountsPaneKey(input: string, key: Key, pageRows: number, dispatch: (a: AppAction) => void, onRemove: () => void): boolean {
  const i = mountsIntent(input, key, pageRows);
  if (i?.kind === "remove") onRemove();
  else if (i) dispatch(i.action);
  return i !== null;
}
