// The one place where a shell string is built from arguments. Guest commands are argv lists;
// SSH carries a single command string, so each argument is single-quoted here. A fuzz test
// (test/unit/shell-quote.test.ts) round-trips random strings through a real shell.
import { HotmountError } from "./errors.ts";

export function quoteArg(s: string): string {
  if (s.includes("\0")) {
    throw new HotmountError("INVALID_ARGUMENT", "an argument contains a NUL byte", { hint: "Paths and options cannot contain NUL." });
  }
  if (s !== "" && /^[A-Za-z0-9_\/.,:=+@%-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export function joinArgv(argv: readonly string[]): string {
  return argv.map(quoteArg).join(" ");
}
