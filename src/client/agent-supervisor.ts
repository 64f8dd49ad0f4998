// Starting an instance's agent, and bringing back one that died while its VM kept running. The
// agent is a detached `hotmount agent NAME`; a new one reconciles from the journal before it
// answers, so whoever restarts it may ask it right away. One restart at a time per instance:
// the instance lock (the one `vm start` and `vm stop` hold) serialises them.
import { spawn } from "node:child_process";
import { closeSync, existsSync, openSync } from "node:fs";
import { asVmLifecycle } from "../../drivers/driver.ts";
import { loadJournal } from "../agent/journal.ts";
import { HotmountError } from "../core/errors.ts";
import { readInstanceConfig } from "../core/instance-config.ts";
import { instancePaths } from "../core/paths.ts";
import { withLock } from "../util/lock.ts";
import { isAlive, readPidFile, removeQuietly, tailFile, terminate, waitUntil } from "../util/process.ts";
import { AgentClient } from "./agent-client.ts";
import { selfArgv } from "./self.ts";

/** How long a command that needs the agent waits for another process busy with the instance. */
export const REVIVE_WAIT_MS = 60_000;

/** Whether the agent answers within `timeoutMs` (a live process that hangs does not count). */
export async function agentAnswers(name: string, timeoutMs = 3000): Promise<boolean> {
  try {
    await new AgentClient(name).info(timeoutMs);
    return true;
  } catch {
    return false;
  }
}

/** The agent's process is gone: no pid file, or its pid is dead. */
export function agentGone(name: string): boolean {
  const pid = readPidFile(instancePaths(name).agentPid);
  return !pid || !isAlive(pid);
}

/** Starts (or replaces) the instance's agent and waits until it answers. Call it holding the instance lock. */
export async function startAgent(name: string, readyWithinMs = 60_000): Promise<void> {
  const paths = instancePaths(name);
  loadJournal(paths.journal); // a newer hotmount's journal: VERSION_MISMATCH here, not an agent that dies
  const old = readPidFile(paths.agentPid);
  if (old && isAlive(old)) await terminate(old, 2000);
  removeQuietly(paths.agentSock);
  const fd = openSync(paths.agentLog, "a");
  const argv = [...selfArgv(), "agent", name];
  const child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ["ignore", fd, fd], env: { ...process.env } });
  closeSync(fd);
  child.unref();
  const client = new AgentClient(name);
  const ok = await waitUntil(
    async () => {
      if (child.exitCode !== null) return true;
      try {
        await client.info(2000);
        return true;
      } catch {
        return false;
      }
    },
    readyWithinMs,
    100,
  );
  if (!ok || child.exitCode !== null) {
    throw new HotmountError("VM_START_FAILED", `the agent of "${name}" did not start`, { hint: `Its log says:\n${tailFile(paths.agentLog, 8)}` });
  }
}

/**
 * Restarts the agent of `name` when its VM runs but its agent process is gone; true when this
 * call did. An agent that is still starting (its process there, its socket not yet) is waited
 * for instead. A VM that lives inside the agent (VZ) died with it and is not booted from here.
 * `waitMs` bounds the wait for another process holding the instance lock; with 0, a busy
 * instance is left to whoever holds it and nothing is restarted.
 */
export async function reviveAgent(name: string, waitMs = REVIVE_WAIT_MS): Promise<boolean> {
  const paths = instancePaths(name);
  if (!existsSync(paths.config) || (!agentGone(name) && existsSync(paths.agentSock))) return false;
  const cfg = readInstanceConfig(name);
  // Loaded only here, for an agent that is gone: the drivers bring ssh2 and more with them.
  const { getDriver } = await import("../../drivers/index.ts");
  const driver = getDriver(cfg.driver);
  if (asVmLifecycle(driver)?.vmLivesInCaller) return false;
  const vmRuns = async () => (await driver.status(cfg)).state === "running";
  if (!(await vmRuns())) return false;
  // This process holds the instance already (the TUI starting or stopping it): nothing to wait for.
  if (readPidFile(paths.lock) === process.pid) return false;
  try {
    return await withLock(
      paths.lock,
      `instance "${name}"`,
      async () => {
        // Someone else may have restarted it, or stopped the VM, while this process waited.
        if (!agentGone(name)) {
          await waitUntil(() => agentAnswers(name, 2000), REVIVE_WAIT_MS, 100);
          return false;
        }
        if (!(await vmRuns())) return false;
        await startAgent(name);
        return true;
      },
      waitMs,
    );
  } catch (e) {
    if (waitMs === 0 && e instanceof HotmountError && e.code === "INSTANCE_ALREADY_RUNNING") return false;
    throw e;
  }
}
