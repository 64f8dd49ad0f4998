// VMs hotmount did not boot: those a driver discovers (VmDiscovery: Lima's instances) and QEMU
// command lines adopted by `hotmount run`. Each gets a hotmount instance dir and the usual agent;
// hotmount attaches to the VM but never boots it. A discovered VM is registered (its driver writes
// instance.json, then the agent starts) the first time a mount is added to it, so `vm list` alone
// starts nothing.
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { allDrivers, getDriver } from "../../drivers/index.ts";
import { asVmDiscovery, type Driver, type Progress, type VmDiscovery } from "../../drivers/driver.ts";
import type { InstanceSummary, SshInfo } from "../agent/api.ts";
import { HotmountError } from "../core/errors.ts";
import { type InstanceConfig, InstanceConfig as InstanceConfigSchema, writeInstanceConfig } from "../core/instance-config.ts";
import { instancePaths, limaLinkPath } from "../core/paths.ts";
import { withLock } from "../util/lock.ts";
import { isAlive, readPidFile } from "../util/process.ts";
import { startAgent } from "./agent-supervisor.ts";
import { ensureHome } from "./home.ts";

const discoveringDrivers = (): (Driver & VmDiscovery)[] => allDrivers().flatMap((d) => asVmDiscovery(d) ?? []);

function readConfigFields(name: string): { driver?: string; external?: string } | null {
  try {
    return JSON.parse(readFileSync(instancePaths(name).config, "utf8")) as { driver?: string; external?: string };
  } catch {
    return null;
  }
}

/** A hotmount instance dir that stands for a discovered VM (listed through discovery instead). */
export function isDiscoveredRegistration(name: string): boolean {
  const c = readConfigFields(name);
  if (!c?.driver || c.external === "run") return false;
  try {
    return !!asVmDiscovery(getDriver(c.driver));
  } catch {
    return false;
  }
}

function agentUp(name: string): boolean {
  const pid = readPidFile(instancePaths(name).agentPid);
  return !!pid && isAlive(pid) && existsSync(instancePaths(name).agentSock);
}

const registeredWithAgent = (name: string) => agentUp(name) && existsSync(instancePaths(name).config);

/** Every discovered VM (Lima, ...), through its agent when it has one. */
export async function discoveredSummaries(summarize: (name: string) => Promise<InstanceSummary>): Promise<InstanceSummary[]> {
  const rows = (await Promise.all(discoveringDrivers().map((d) => d.discover()))).flat();
  return Promise.all(rows.map((r) => (registeredWithAgent(r.name) ? summarize(r.name) : r)));
}

/** The summary of `name` when it is a discovered VM without an agent; null otherwise. */
export async function foreignSummary(name: string): Promise<InstanceSummary | null> {
  if (registeredWithAgent(name)) return null;
  // One of hotmount's own VMs (or one adopted by `run`) is never a discovered one: no driver asked.
  if (existsSync(instancePaths(name).config) && !isDiscoveredRegistration(name)) return null;
  for (const d of discoveringDrivers()) {
    const row = (await d.discover()).find((r) => r.name === name);
    if (row) return row;
  }
  return null;
}

/** Makes sure a discovered VM called `name` has an agent (registering it first); false when no driver knows `name`. */
export async function ensureForeignAgent(name: string, progress?: Progress): Promise<boolean> {
  for (const d of discoveringDrivers()) {
    if (!(await d.discover()).some((r) => r.name === name)) continue;
    progress?.(`attaching to the ${d.name} VM`);
    ensureHome();
    const dir = instancePaths(name).dir;
    const created = !existsSync(dir);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    try {
      await withLock(
        instancePaths(name).lock,
        `instance "${name}"`,
        async () => {
          if (agentUp(name)) return;
          if (!(await d.register(name))) {
            throw new HotmountError("INSTANCE_NOT_FOUND", `the ${d.name} VM "${name}" went away`, { hint: "See `hotmount vm list`." });
          }
          await startAgent(name);
        },
        30_000,
      );
    } catch (e) {
      // A refused registration (the VM is not running) leaves no instance dir behind.
      if (created && !existsSync(instancePaths(name).config)) rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    return true;
  }
  return false;
}

/**
 * `vm start NAME` for an instance hotmount did not boot: attach an agent when the VM runs; refuse
 * otherwise, saying who starts it. Returns false when `name` is an ordinary hotmount VM.
 */
export async function startExternal(name: string, progress: Progress): Promise<boolean> {
  if (readConfigFields(name)?.external !== "run") return ensureForeignAgent(name, progress);
  const pid = readPidFile(instancePaths(name).qemuPid);
  if (!pid || !isAlive(pid)) {
    throw new HotmountError("INSTANCE_NOT_RUNNING", `"${name}" was a QEMU command line adopted by \`hotmount run\`, and it has stopped`, {
      hint: `Run it again: hotmount run ${name} -- qemu-system-... (your command line).`,
    });
  }
  if (!agentUp(name)) {
    progress("restarting the agent");
    await withLock(instancePaths(name).lock, `instance "${name}"`, () => startAgent(name), 30_000);
  }
  return true;
}

/** instance.json of a QEMU adopted by `hotmount run` (QEMU driver paths: qmp.sock, qemu.pid, 9p links). */
export function registerAdopted(o: { name: string; memoryMiB: number; cpus: number; slots: number; ninePSlots: number; ssh: SshInfo }): InstanceConfig {
  const cfg = InstanceConfigSchema.parse({
    name: o.name,
    driver: "qemu",
    external: "run",
    memoryMiB: Math.max(128, o.memoryMiB),
    cpus: o.cpus,
    slots: o.slots,
    ninePSlots: o.ninePSlots,
    kernel: "",
    append: "",
    ssh: o.ssh,
  });
  writeInstanceConfig(cfg);
  return cfg;
}
