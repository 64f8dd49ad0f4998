// A lock file held for one CLI operation on an instance (vm start/stop), so two at once cannot
// race. A lock whose owner died is taken over.
import { closeSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { HotmountError } from "../core/errors.ts";
import { isAlive, sleep } from "./process.ts";

export async function withLock<T>(path: string, what: string, fn: () => Promise<T>, waitMs = 0): Promise<T> {
  const end = Date.now() + waitMs;
  for (;;) {
    try {
      const fd = openSync(path, "wx", 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      let owner = 0;
      try {
        owner = Number(readFileSync(path, "utf8"));
      } catch {
        continue;
      }
      if (!isAlive(owner)) {
        rmSync(path, { force: true });
        continue;
      }
      if (Date.now() >= end) {
        throw new HotmountError("INSTANCE_ALREADY_RUNNING", `another hotmount process (pid ${owner}) is busy with ${what}`, {
          hint: "Wait for it to finish, then try again.",
        });
      }
      await sleep(100);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(path, { force: true });
  }
}
