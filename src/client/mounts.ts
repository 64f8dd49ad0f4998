// Mounts across instances, for `mount list` without an instance.
import { existsSync, readdirSync } from "node:fs";
import type { Mount } from "../agent/api.ts";
import { instancePaths, instancesDir } from "../core/paths.ts";
import { AgentClient } from "./agent-client.ts";

export async function listAllMounts(instance?: string): Promise<Mount[]> {
  if (instance) return new AgentClient(instance).mounts();
  const dir = instancesDir();
  const names = existsSync(dir)
    ? readdirSync(dir)
        .filter((n) => existsSync(instancePaths(n).agentSock))
        .sort()
    : [];
  const lists = await Promise.all(names.map((n) => new AgentClient(n).mounts().catch(() => [] as Mount[])));
  return lists.flat();
}
