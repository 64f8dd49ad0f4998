// What a text field's keys do: readline-style edits. The keys themselves are in keymap.ts (scope
// "text"); keys the field does not use are left to the form (Tab, Enter, arrows up/down, Esc).
import type { IntentIn } from "./keymap.ts";
import type { TextEdit } from "./text-field-state.ts";

/** The edit a text-field intent makes; `input` is the typed text for "insert". */
export function textEdit(intent: IntentIn<"text">, input: string): TextEdit {
  return intent === "insert" ? { kind: "insert", text: input } : { kind: intent };
}
