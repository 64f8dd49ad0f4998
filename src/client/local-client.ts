// The HotmountClient the CLI commands and the TUI use on this host: one facade over the agents'
// HTTP (client/agent-client.ts), the instance lifecycle (client/instances.ts), Lima attachment
// (client/external-vms.ts) and agent supervision (client/agent-supervisor.ts). Before it asks an
// agent, it restarts one that died while its VM kept running, and says so through
// onAgentRestarted; listings do not wait for an instance another process is busy with. The
// lifecycle and Lima parts load the drivers (ssh2 among them), so they are imported when used:
// `mount add`, `mount remove` and `mount list` start without them.
import { readFileSync } from "node:fs";
import { instancePaths } from "../core/paths.ts";
import { AgentClient } from "./agent-client.ts";
import { REVIVE_WAIT_MS, reviveAgent } from "./agent-supervisor.ts";
import { listAllMounts } from "./mounts.ts";
import type { HotmountClient } from "./types.ts";

const instances = () => import("./instances.ts");

/** How long one client waits before it tries again to restart an agent that would not start. */
export const REVIVE_RETRY_MS = 30_000;

export interface LocalClientOptions {
  /** Told each time this client restarted the dead agent of a running VM. */
  onAgentRestarted?: (instance: string) => void;
}

/** How the CLI and the TUI word a restart. */
export const agentRestartedNote = (instance: string) => `the agent of "${instance}" was restarted (it had stopped while the VM kept running)`;

export function localClient(opts: LocalClientOptions = {}): HotmountClient {
  // An agent that fails to come up is not retried on every TUI poll: one try per interval.
  const failedAt = new Map<string, number>();
  const revive = async (instance: string, waitMs = REVIVE_WAIT_MS): Promise<void> => {
    if (Date.now() - (failedAt.get(instance) ?? -Infinity) < REVIVE_RETRY_MS) return;
    try {
      if (await reviveAgent(instance, waitMs)) opts.onAgentRestarted?.(instance);
      failedAt.delete(instance);
    } catch (e) {
      failedAt.set(instance, Date.now());
      throw e;
    }
  };
  const agent = async (instance: string): Promise<AgentClient> => {
    await revive(instance);
    return new AgentClient(instance);
  };
  /** A Lima instance gets its agent (and its hotmount registration) on first mount or unmount. */
  const attached = async (instance: string): Promise<AgentClient> => {
    if (!new AgentClient(instance).present) await (await import("./external-vms.ts")).ensureForeignAgent(instance);
    return agent(instance);
  };
  return {
    listInstances: async () => (await instances()).listInstances({ revive: (n) => revive(n, 0) }),
    summary: async (i) => (await instances()).summarize(i, { revive: (n) => revive(n) }),
    info: async (i) => (await agent(i)).info(),
    listMounts: async (i) => (await agent(i)).mounts(),
    listAllMounts: () => listAllMounts((n) => revive(n, 0)),
    addMount: async (i, req) => (await attached(i)).add(req),
    removeMount: async (i, key, o) => (await attached(i)).remove(key, o?.force ?? false),
    startVm: async (i, o, onProgress) => (await instances()).startInstance(i, o ?? {}, onProgress ?? (() => {})),
    stopVm: async (i, onProgress) => (await instances()).stopInstance(i, onProgress ?? (() => {})),
    agentLog: async (i, lines) => {
      try {
        return readFileSync(instancePaths(i).agentLog, "utf8").trimEnd().split("\n").slice(-lines);
      } catch {
        return [];
      }
    },
  };
}
