// JSON-lines logger for the agent (its stdout and stderr go to the instance's agent.log).
import type { Logger } from "./model.ts";

export function jsonLogger(write: (line: string) => void = (l) => process.stdout.write(l)): Logger {
  const emit = (level: string) => (msg: string, fields?: Record<string, unknown>) =>
    write(JSON.stringify({ ts: new Date().toISOString(), level, msg, ...fields }) + "\n");
  return { info: emit("info"), warn: emit("warn"), error: emit("error") };
}
