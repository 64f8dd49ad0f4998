// The HotmountClient the CLI and the TUI use on this host.
import { readFileSync } from "node:fs";
import { instancePaths } from "../core/paths.ts";
import { AgentClient } from "./agent-client.ts";
import { listInstances, startInstance, stopInstance } from "./instances.ts";
import type { HotmountClient } from "./types.ts";

export function localClient(): HotmountClient {
  return {
    listInstances,
    info: (i) => new AgentClient(i).info(),
    listMounts: (i) => new AgentClient(i).mounts(),
    addMount: (i, req) => new AgentClient(i).add(req),
    removeMount: (i, key, o) => new AgentClient(i).remove(key, o?.force ?? false),
    startVm: (i, o, onProgress) => startInstance(i, o ?? {}, onProgress ?? (() => {})),
    stopVm: (i, onProgress) => stopInstance(i, onProgress ?? (() => {})),
    agentLog: async (i, lines) => {
      try {
        return readFileSync(instancePaths(i).agentLog, "utf8").trimEnd().split("\n").slice(-lines);
      } catch {
        return [];
      }
    },
  };
}
