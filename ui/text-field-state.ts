// A one-line text field with a cursor: pure edits, shared by the form's path fields.

export interface TextFieldState {
  value: string;
  /** Cursor position in code points (0 = before the first character). */
  cursor: number;
}

export type TextEdit =
  | { kind: "insert"; text: string }
  | { kind: "backspace" }
  | { kind: "delete" }
  | { kind: "left" }
  | { kind: "right" }
  | { kind: "home" }
  | { kind: "end" }
  | { kind: "kill-start" }
  | { kind: "kill-end" }
  | { kind: "kill-word" }
  | { kind: "set"; value: string };

export function textField(value = ""): TextFieldState {
  return { value, cursor: [...value].length };
}

export function applyEdit(state: TextFieldState, edit: TextEdit): TextFieldState {
  // Code points, not UTF-16 units, so the cursor never splits a character.
  const chars = [...state.value];
  const c = Math.min(Math.max(0, state.cursor), chars.length);
  const make = (cs: string[], cursor: number): TextFieldState => ({ value: cs.join(""), cursor });
  switch (edit.kind) {
    case "insert": {
      // Pasted text may carry a newline at the end; a path never does.
      const ins = [...edit.text.replace(/[\r\n]+/g, "")];
      return make([...chars.slice(0, c), ...ins, ...chars.slice(c)], c + ins.length);
    }
    case "backspace":
      return c === 0 ? state : make([...chars.slice(0, c - 1), ...chars.slice(c)], c - 1);
    case "delete":
      return c >= chars.length ? state : make([...chars.slice(0, c), ...chars.slice(c + 1)], c);
    case "left":
      return { ...state, cursor: Math.max(0, c - 1) };
    case "right":
      return { ...state, cursor: Math.min(chars.length, c + 1) };
    case "home":
      return { ...state, cursor: 0 };
    case "end":
      return { ...state, cursor: chars.length };
    case "kill-start":
      return make(chars.slice(c), 0);
    case "kill-end":
      return make(chars.slice(0, c), c);
    case "kill-word": {
      // Like a shell's Ctrl-W for paths: drop back to (and including) the previous "/".
      let i = c;
      while (i > 0 && chars[i - 1] === "/") i--;
      while (i > 0 && chars[i - 1] !== "/") i--;
      return make([...chars.slice(0, i), ...chars.slice(c)], i);
    }
    case "set":
      return textField(edit.value);
  }
}
