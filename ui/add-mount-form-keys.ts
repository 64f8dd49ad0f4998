// What the add-mount form's keys do. Which keys are active depends on the field: Tab completes in
// the host path, arrows change the type and the writable toggle, the path fields take text.
import type { Completion } from "./path-complete.ts";
import type { AddMountAction, AddMountState } from "./add-mount-form-state.ts";
import type { IntentIn, KeyHandlers } from "./keymap.ts";
import { textEdit } from "./text-field-keys.ts";

export type AddMountScope = "add" | "add-host" | "add-type" | "add-writable" | "text";

export function addMountScopes(s: AddMountState): AddMountScope[] {
  switch (s.field) {
    case "hostPath":
      return ["add-host", "add", "text"];
    case "mountPoint":
      return ["add", "text"];
    case "type":
      return ["add", "add-type"];
    case "writable":
      return ["add", "add-writable"];
  }
}

export interface AddMountFormKeyDeps {
  state: AddMountState;
  /** The text the key typed, for the text fields. */
  input: string;
  dispatch: (a: AddMountAction) => void;
  complete: (input: string) => Promise<Completion>;
  onSubmit: () => void;
  onCancel: () => void;
}

function complete(d: AddMountFormKeyDeps): void {
  const from = d.state.hostPath.value;
  void d.complete(from).then((c) => d.dispatch({ type: "add/completed", from, value: c.value, candidates: c.candidates }));
}

export const addMountFormKeys: KeyHandlers<AddMountScope, AddMountFormKeyDeps> = {
  add: {
    cancel: (d) => d.onCancel(),
    submit: (d) => d.onSubmit(),
    "prev-field": (d) => d.dispatch({ type: "add/field", delta: -1 }),
    "next-field": (d) => d.dispatch({ type: "add/field", delta: 1 }),
  },
  "add-host": { complete },
  "add-type": {
    "prev-type": (d) => d.dispatch({ type: "add/cycle-type", delta: -1 }),
    "next-type": (d) => d.dispatch({ type: "add/cycle-type", delta: 1 }),
  },
  "add-writable": { toggle: (d) => d.dispatch({ type: "add/toggle-writable" }) },
  text: {
    left: edit,
    right: edit,
    home: edit,
    end: edit,
    backspace: edit,
    delete: edit,
    "kill-start": edit,
    "kill-end": edit,
    "kill-word": edit,
    insert: edit,
  },
};

function edit(d: AddMountFormKeyDeps, intent: IntentIn<"text">): void {
  d.dispatch({ type: "add/edit", edit: textEdit(intent, d.input) });
}
