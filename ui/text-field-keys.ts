// Keys of a text field: readline-style editing. Returns null for keys the field does not use,
// so the form can give them other meanings (Tab, Enter, arrows up/down, Esc).
import type { Key } from "ink";
import type { TextEdit } from "./text-field-state.ts";

export function textEditFromKey(input: string, key: Key): TextEdit | null {
  if (key.leftArrow) return { kind: "left" };
  if (key.rightArrow) return { kind: "right" };
  if (key.home) return { kind: "home" };
  if (key.end) return { kind: "end" };
  if (key.backspace) return { kind: "backspace" };
  if (key.delete) return { kind: "delete" };
  if (key.ctrl) {
    switch (input) {
      case "a":
        return { kind: "home" };
      case "e":
        return { kind: "end" };
      case "b":
        return { kind: "left" };
      case "f":
        return { kind: "right" };
      case "u":
        return { kind: "kill-start" };
      case "k":
        return { kind: "kill-end" };
      case "w":
        return { kind: "kill-word" };
      case "h":
        return { kind: "backspace" };
      case "d":
        return { kind: "delete" };
      default:
        return null;
    }
  }
  if (key.meta || key.escape || key.return || key.tab || key.upArrow || key.downArrow || key.pageUp || key.pageDown) return null;
  if (input.length === 0) return null;
  return { kind: "insert", text: input };
}
