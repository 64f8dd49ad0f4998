// What the stop prompt's keys do: yes stops the VM, no closes the prompt.
import type { KeyHandlers } from "./keymap.ts";

export interface ConfirmPromptKeyDeps {
  onYes: () => void;
  onNo: () => void;
}

export const stopPromptKeys: KeyHandlers<"stop", ConfirmPromptKeyDeps> = {
  stop: { stop: (d) => d.onYes(), cancel: (d) => d.onNo() },
};
