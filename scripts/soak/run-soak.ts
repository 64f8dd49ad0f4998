// The soak: N add/remove cycles mixed across transports on one running instance, through the
// agent API, then a leak audit: processes, devices, chardevs, guest mounts, agent fds and RSS.
import { readdirSync, readFileSync } from "node:fs";
import type { Transport } from "../../src/agent/api.ts";
import { AgentClient } from "../../src/client/agent-client.ts";
import { instancePaths } from "../../src/core/paths.ts";
import { GuestSsh } from "../../src/guest-exec/ssh-client.ts";
import { readInstanceConfig } from "../../src/core/instance-config.ts";
import { cmdlineOf, findProcesses } from "../../src/util/process.ts";

export interface SoakResult {
  cycles: number;
  seconds: number;
  byType: Record<string, number>;
  leaks: { processes: string[]; devices: string[]; backends: string[]; guestMounts: string[] };
  agent: { fdStart: number; fdEnd: number; fdMax: number; rssStartKiB: number; rssEndKiB: number };
}

function agentPid(name: string): number {
  return Number(readFileSync(instancePaths(name).agentPid, "utf8"));
}

const fds = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;
const rssKiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);

export async function soak(
  name: string,
  hostDirs: string[],
  cycles: number,
  types: Transport[] = ["virtiofs", "9p", "reverse-sshfs"],
  log: (s: string) => void = () => {},
): Promise<SoakResult> {
  const client = new AgentClient(name);
  const pid = agentPid(name);
  const t0 = performance.now();
  // Warm up once per type so lazily loaded code does not count as growth.
  for (const type of types) {
    const m = await client.add({ hostPath: hostDirs[0]!, mountPoint: "/mnt/soak-warm", type });
    await client.remove(m.id);
  }
  const fdStart = fds(pid);
  const rssStartKiB = rssKiB(pid);
  let fdMax = fdStart;
  const byType: Record<string, number> = {};
  for (let i = 0; i < cycles; i++) {
    const type = types[i % types.length]!;
    const m = await client.add({ hostPath: hostDirs[i % hostDirs.length]!, mountPoint: `/mnt/soak${i % 3}`, type, writable: i % 2 === 0 });
    await client.remove(m.mountPoint);
    byType[type] = (byType[type] ?? 0) + 1;
    fdMax = Math.max(fdMax, fds(pid));
    if ((i + 1) % 50 === 0) log(`${i + 1}/${cycles} cycles, agent fds ${fds(pid)}, rss ${rssKiB(pid)} KiB`);
  }
  const inv = await client.inventory();
  const ssh = await GuestSsh.connect(readInstanceConfig(name).ssh);
  const guestMounts = (await ssh.run(["cat", "/proc/mounts"])).split("\n").filter((l) => l.includes("/mnt/soak"));
  ssh.close();
  const dir = instancePaths(name).dir;
  const processes = findProcesses(
    (a) => /virtiofsd|sftp-server/.test(a.join(" ")) && (a.some((x) => x.includes(dir)) || hostDirs.some((h) => a.includes(h))),
  ).map((p) => cmdlineOf(p).join(" "));
  return {
    cycles,
    seconds: (performance.now() - t0) / 1000,
    byType,
    leaks: { processes, devices: inv.devices.map((d) => d.id), backends: inv.backends.map((b) => `${b.kind}:${b.id}`), guestMounts },
    agent: { fdStart, fdEnd: fds(pid), fdMax, rssStartKiB, rssEndKiB: rssKiB(pid) },
  };
}
