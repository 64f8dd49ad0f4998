// What a client says about itself to the agent (header x-hotmount-client), so the audit log can
// name who asked: uid, pid and command line. The agent records it as stated.
export const CLIENT_HEADER = "x-hotmount-client";

/** Kept well under HTTP header limits (the agent ignores a value over 8 KiB). */
const MAX_HEADER = 4096;

let cached: string | null = null;

// A header value must be Latin-1 (fetch refuses anything else), and a command line may hold any
// Unicode (a folder named 日本): every non-ASCII code unit becomes a JSON \u escape.
const encode = (v: unknown) => JSON.stringify(v).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);

/** The header's value for a process with this command line (pure: the tests give their own). */
export function clientHeaderValue(argv: readonly string[]): string {
  const command = argv.slice(0, 32).map((a) => a.slice(0, 256));
  let text = encode({ uid: process.getuid?.(), pid: process.pid, command });
  // A long command line loses its last words first, so the header always fits.
  while (text.length > MAX_HEADER && command.length) {
    command.pop();
    text = encode({ uid: process.getuid?.(), pid: process.pid, command: [...command, "..."] });
  }
  return text;
}

export function clientHeaders(): Record<string, string> {
  cached ??= clientHeaderValue(process.argv);
  return { [CLIENT_HEADER]: cached };
}
