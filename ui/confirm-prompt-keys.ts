// Keys of a yes/no question: y or Enter answers yes, n, q or Esc answers no.
import type { Key } from "ink";

export function confirmIntent(input: string, key: Key): "yes" | "no" | null {
  if (input === "y" || input === "Y" || key.return) return "yes";
  if (input === "n" || input === "N" || input === "q" || key.escape) return "no";
  return null;
}

export function handleConfirmPromptKey(input: string, key: Key, onYes: () => void, onNo: () => void): void {
  const i = confirmIntent(input, key);
  if (i === "yes") onYes();
  else if (i === "no") onNo();
}
