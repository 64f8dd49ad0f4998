// Keys of the add-mount form. The mapping is a pure function so it is tested without a terminal.
import type { Key } from "ink";
import type { Completion } from "./path-complete.ts";
import type { AddMountAction, AddMountState } from "./add-mount-form-state.ts";
import { textEditFromKey } from "./text-field-keys.ts";

export type AddMountIntent = { kind: "cancel" } | { kind: "submit" } | { kind: "complete" } | { kind: "action"; action: AddMountAction };

export function addMountIntent(input: string, key: Key, s: AddMountState): AddMountIntent | null {
  if (key.escape) return { kind: "cancel" };
  if (key.return) return { kind: "submit" };
  if (key.tab && key.shift) return { kind: "action", action: { type: "add/field", delta: -1 } };
  // Tab completes in the host path, as in a shell; elsewhere it moves on.
  if (key.tab) return s.field === "hostPath" ? { kind: "complete" } : { kind: "action", action: { type: "add/field", delta: 1 } };
  if (key.upArrow) return { kind: "action", action: { type: "add/field", delta: -1 } };
  if (key.downArrow) return { kind: "action", action: { type: "add/field", delta: 1 } };
  if (s.field === "type") {
    if (key.leftArrow || input === "h") return { kind: "action", action: { type: "add/cycle-type", delta: -1 } };
    if (key.rightArrow || input === "l" || input === " ") return { kind: "action", action: { type: "add/cycle-type", delta: 1 } };
    return null;
  }
  if (s.field === "writable") {
    if (key.leftArrow || key.rightArrow || input === " " || input === "w") return { kind: "action", action: { type: "add/toggle-writable" } };
    return null;
  }
  const edit = textEditFromKey(input, key);
  return edit ? { kind: "action", action: { type: "add/edit", edit } } : null;
}

export interface AddMountFormKeyDeps {
  dispatch: (a: AddMountAction) => void;
  complete: (input: string) => Promise<Completion>;
  onSubmit: () => void;
  onCancel: () => void;
}

export function handleAddMountFormKey(input: string, key: Key, state: AddMountState, d: AddMountFormKeyDeps): void {
  const intent = addMountIntent(input, key, state);
  if (!intent) return;
  // While the request is out only Esc works: it hides the form, the request carries on.
  if (state.submitting && intent.kind !== "cancel") return;
  if (intent.kind === "cancel") d.onCancel();
  else if (intent.kind === "submit") d.onSubmit();
  else if (intent.kind === "action") d.dispatch(intent.action);
  else {
    const from = state.hostPath.value;
    void d.complete(from).then((c) => d.dispatch({ type: "add/completed", from, value: c.value, candidates: c.candidates }));
  }
}
