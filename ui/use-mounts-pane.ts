// Keys of the mounts pane when it has focus: moving the selection, d/Delete to remove.
import { useInput, type Key } from "ink";
import type { AppAction } from "./use-app-state.ts";
import { moveDelta } from "./use-instances-pane.ts";

export type MountsIntent = { kind: "remove" } | { kind: "action"; action: AppAction };

export function mountsIntent(input: string, key: Key, pageRows: number): MountsIntent | null {
  const d = moveDelta(input, key, pageRows);
  if (d !== null) return { kind: "action", action: { type: "mounts/move", delta: d } };
  if (input === "d" || key.delete) return { kind: "remove" };
  return null;
}

export function useMountsPane(dispatch: (a: AppAction) => void, onRemove: () => void, pageRows: number, isActive: boolean): void {
  useInput(
    (input, key) => {
      const i = mountsIntent(input, key, pageRows);
      if (i?.kind === "remove") onRemove();
      else if (i) dispatch(i.action);
    },
    { isActive },
  );
}
