// Mounts across instances, for `mount list` without an instance.
import { existsSync, readdirSync } from "node:fs";
import type { Mount } from "../agent/api.ts";
import { instancePaths, instancesDir } from "../core/paths.ts";
import { AgentClient } from "./agent-client.ts";

/** Every instance with an agent socket; `revive` first gets a chance to bring back a dead agent. */
export async function listAllMounts(revive: (name: string) => Promise<unknown> = async () => {}): Promise<Mount[]> {
  const dir = instancesDir();
  const names = existsSync(dir)
    ? readdirSync(dir)
        .filter((n) => existsSync(instancePaths(n).config))
        .sort()
    : [];
  const lists = await Promise.all(
    names.map(async (n) => {
      await revive(n).catch(() => {});
      if (!existsSync(instancePaths(n).agentSock)) return [] as Mount[];
      return new AgentClient(n).mounts().catch(() => [] as Mount[]);
    }),
  );
  return lists.flat();
}
