// Keys of the remove dialog. `f` only means force after the agent said the mount is busy, so a
// stray key can never force an unmount the user did not see refused.
import type { Key } from "ink";
import type { RemoveConfirmState } from "./remove-confirm-state.ts";

export type RemoveIntent = "remove" | "force" | "cancel" | null;

export function removeIntent(input: string, key: Key, s: RemoveConfirmState): RemoveIntent {
  switch (s.phase) {
    case "confirm":
      if (input === "y" || input === "Y" || key.return) return "remove";
      if (input === "n" || input === "N" || input === "q" || key.escape) return "cancel";
      return null;
    case "busy":
      if (input === "f" || input === "F") return "force";
      if (input === "n" || input === "N" || input === "q" || key.escape || key.return) return "cancel";
      return null;
    case "failed":
      if (input === "y" || input === "r") return "remove";
      if (input === "n" || input === "q" || key.escape || key.return) return "cancel";
      return null;
    case "working":
      return null;
  }
}

export function handleRemoveConfirmKey(input: string, key: Key, state: RemoveConfirmState, onRemove: (force: boolean) => void, onCancel: () => void): void {
  const intent = removeIntent(input, key, state);
  if (intent === "remove") onRemove(false);
  else if (intent === "force") onRemove(true);
  else if (intent === "cancel") onCancel();
}
