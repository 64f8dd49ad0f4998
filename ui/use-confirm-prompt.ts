// Keys of a yes/no question: y or Enter answers yes, n, q or Esc answers no.
import { useInput } from "ink";

export function useConfirmPrompt(onYes: () => void, onNo: () => void, isActive: boolean): void {
  useInput(
    (input, key) => {
      if (input === "y" || input === "Y" || key.return) onYes();
      else if (input === "n" || input === "N" || input === "q" || key.escape) onNo();
    },
    { isActive },
  );
}
