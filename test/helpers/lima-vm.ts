// Booting and stopping a Lima-shaped VM the way Lima does, for the lima-* test files.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { instancePaths } from "../../src/core/paths.ts";
import { READY_MARKER } from "../../src/guest-image/contract.ts";
import { QmpClient } from "../../src/qmp/index.ts";
import { GuestSsh } from "../../src/guest-exec/ssh-client.ts";
import { isAlive, readPidFile, terminate, waitUntil } from "../../src/util/process.ts";
import type { LimaShaped } from "../fixtures/lima/lima-home.ts";

export type LimaQemu = Bun.Subprocess<"ignore", "pipe", "pipe">;

/** Waits for the guest's ready marker on Lima's serial log, then connects as Lima's user key. */
export async function waitLimaBooted(qemu: LimaQemu, lima: LimaShaped): Promise<GuestSsh> {
  const booted = await waitUntil(
    () => {
      try {
        return readFileSync(join(lima.dir, "serial.log"), "utf8").includes(READY_MARKER);
      } catch {
        return qemu.exitCode !== null;
      }
    },
    180_000,
    200,
  );
  if (!booted || qemu.exitCode !== null) throw new Error(`the Lima-shaped VM did not boot: ${await new Response(qemu.stderr).text()}`);
  return GuestSsh.connectWithRetry({ host: "127.0.0.1", port: lima.sshPort, user: "root", identityFile: join(lima.home, "_config", "user") }, 60_000);
}

/** Lima's stop ends in QMP on its own qmp.sock (system_powerdown, then a kill): quit is enough here. */
export async function stopLimaQemu(qemu: LimaQemu | null, lima: LimaShaped): Promise<void> {
  if (!qemu || qemu.exitCode !== null) return;
  const c = await QmpClient.connect(join(lima.dir, "qmp.sock"), { timeoutMs: 3000 }).catch(() => null);
  await c?.execute("quit").catch(() => {});
  await c?.close().catch(() => {});
  if (!(await waitUntil(() => qemu.exitCode !== null, 10_000))) qemu.kill("SIGKILL");
}

/** The agent notices the VM is gone and exits by itself; this waits for it (and ends it if not). */
export async function waitAgentGone(hmName: string): Promise<void> {
  const agentPid = readPidFile(instancePaths(hmName).agentPid);
  if (agentPid && !(await waitUntil(() => !isAlive(agentPid), 10_000))) await terminate(agentPid);
}
