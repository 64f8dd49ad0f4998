// What the TUI keeps of a failure: the code to branch on, the message and the hint to show.
// Never the stack: a user should see what went wrong and what to do, not where in our code.
import { asHotmountError } from "../src/core/errors.ts";

export interface ErrorView {
  code: string;
  message: string;
  hint?: string;
}

export function toErrorView(e: unknown): ErrorView {
  const h = asHotmountError(e);
  return h.hint ? { code: h.code, message: h.message, hint: h.hint } : { code: h.code, message: h.message };
}

export function uiError(message: string, hint?: string): ErrorView {
  return hint ? { code: "INVALID_ARGUMENT", message, hint } : { code: "INVALID_ARGUMENT", message };
}
