// How to run this same hotmount again (for the detached agent): the compiled binary runs
// itself; from source, bun runs src/main.ts.
import { fileURLToPath } from "node:url";

/** Code inside a `bun build --compile` binary lives in Bun's virtual filesystem. */
export function isCompiled(): boolean {
  return import.meta.url.includes("$bunfs") || import.meta.url.includes("~BUN");
}

export function selfArgv(): string[] {
  if (isCompiled()) return [process.execPath];
  return [process.execPath, fileURLToPath(new URL("../main.ts", import.meta.url))];
}
