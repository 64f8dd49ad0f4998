// View of a one-line text field: the value with an inverse cursor, scrolled sideways so the cursor
// stays visible in narrow terminals; the placeholder while it is empty.
import { Text } from "ink";
import { cells } from "./format.ts";
import type { TextFieldState } from "./text-field-state.ts";

export interface TextFieldProps {
  state: TextFieldState;
  focused: boolean;
  width: number;
  placeholder?: string;
}

export function TextField({ state, focused, width, placeholder }: TextFieldProps) {
  const chars = [...state.value];
  if (chars.length === 0 && placeholder && !focused) return <Text dimColor>{truncateTo(placeholder, width)}</Text>;
  if (!focused) return <Text>{visibleSlice(chars, chars.length, width).join("")}</Text>;
  if (chars.length === 0 && placeholder) {
    return (
      <Text>
        <Text inverse>{placeholder[0] ?? " "}</Text>
        <Text dimColor>{truncateTo(placeholder.slice(1), width - 1)}</Text>
      </Text>
    );
  }
  // Leave one cell for the cursor drawn after the last character.
  const start = scrollStart(chars, state.cursor, width);
  const view = chars.slice(start);
  const at = state.cursor - start;
  const before = fitChars(view.slice(0, at), width - 1).join("");
  const under = view[at] ?? " ";
  const after = fitChars(view.slice(at + 1), Math.max(0, width - 1 - cells(before))).join("");
  return (
    <Text>
      {before}
      <Text inverse>{under}</Text>
      {after}
    </Text>
  );
}

function truncateTo(s: string, w: number): string {
  return fitChars([...s], w).join("");
}

function fitChars(chars: string[], w: number): string[] {
  const out: string[] = [];
  let used = 0;
  for (const ch of chars) {
    if (used + cells(ch) > w) break;
    out.push(ch);
    used += cells(ch);
  }
  return out;
}

/** First character shown so that the cursor column fits in `width` cells. */
function scrollStart(chars: string[], cursor: number, width: number): number {
  let start = 0;
  while (start < cursor && cells(chars.slice(start, cursor).join("")) > width - 1) start++;
  return start;
}

function visibleSlice(chars: string[], end: number, width: number): string[] {
  // Unfocused paths show their end: the last directories say more than the first.
  let start = 0;
  while (start < end && cells(chars.slice(start, end).join("")) > width) start++;
  return chars.slice(start, end);
}
