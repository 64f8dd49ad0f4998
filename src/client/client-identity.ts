// What a client says about itself to the agent (header x-hotmount-client), so the audit log can
// name who asked: uid, pid and command line. The agent records it as stated.
export const CLIENT_HEADER = "x-hotmount-client";

let cached: string | null = null;

export function clientHeaders(): Record<string, string> {
  cached ??= JSON.stringify({ uid: process.getuid?.(), pid: process.pid, command: process.argv.slice(0, 64).map((a) => a.slice(0, 512)) });
  return { [CLIENT_HEADER]: cached };
}
