// VMs hotmount did not boot: Lima instances (found in $LIMA_HOME), libvirt domains (found through
// virsh) and QEMU command lines adopted by `hotmount run`. Each gets a hotmount instance dir and the usual agent; hotmount attaches to
// the VM but never boots it. A Lima instance is registered (instance.json written, agent started)
// the first time a mount is added to it, and so is a libvirt domain, so `vm list` alone starts nothing.
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { limaInstanceByHmName, listLimaInstances, type LimaInstance } from "../../drivers/lima/lima-instance.ts";
import { limaLinkPath } from "../../drivers/lima/lima-paths.ts";
import { limaTransports } from "../../drivers/lima/lima-session.ts";
import { liveWrap, readLimaLink, writeLimaLink } from "../../drivers/lima/wrap-marker.ts";
import type { Progress } from "../../drivers/driver.ts";
import { libvirtDriver } from "../../drivers/libvirt/index.ts";
import { discoveredVm, domainByHmName, listDomains } from "../../drivers/libvirt/discovery.ts";
import type { InstanceSummary, SshInfo } from "../agent/api.ts";
import { HotmountError } from "../core/errors.ts";
import { type InstanceConfig, InstanceConfig as InstanceConfigSchema, writeInstanceConfig } from "../core/instance-config.ts";
import { instancePaths } from "../core/paths.ts";
import { withLock } from "../util/lock.ts";
import { isAlive, readPidFile } from "../util/process.ts";
import { ensureHome, startAgent } from "./instances.ts";

function readExternal(name: string): "lima" | "run" | "libvirt" | null {
  try {
    const c = JSON.parse(readFileSync(instancePaths(name).config, "utf8")) as { external?: string };
    return c.external === "lima" || c.external === "run" || c.external === "libvirt" ? c.external : existsSync(limaLinkPath(name)) ? "lima" : null;
  } catch {
    return existsSync(limaLinkPath(name)) ? "lima" : null;
  }
}

/** A hotmount instance dir that stands for a Lima instance (listed through discovery instead). */
export const isLimaRegistration = (name: string) => readExternal(name) === "lima";

/** A hotmount instance dir that stands for a libvirt domain (listed through discovery instead). */
export const isLibvirtRegistration = (name: string) => readExternal(name) === "libvirt";

/** Every libvirt domain, through its agent when it has one (and is still the same domain). */
export async function libvirtSummaries(summarize: (name: string) => Promise<InstanceSummary>): Promise<InstanceSummary[]> {
  const domains = await listDomains();
  return Promise.all(
    domains.map((d) => (d.state === "running" && agentUp(d.hmName) && isLibvirtRegistration(d.hmName) ? summarize(d.hmName) : discoveredVm(d))),
  );
}

/** The summary of a registered libvirt domain whose agent is not running; null otherwise. */
export async function libvirtForeignSummary(name: string): Promise<InstanceSummary | null> {
  if (!isLibvirtRegistration(name) || agentUp(name)) return null;
  const d = await domainByHmName(name);
  return d ? discoveredVm(d) : null;
}

function agentUp(name: string): boolean {
  const pid = readPidFile(instancePaths(name).agentPid);
  return !!pid && isAlive(pid) && existsSync(instancePaths(name).agentSock);
}

/** `vm list` row of a Lima instance without an agent: what Lima's files and the wrapper's marker say. */
export function limaSummary(inst: LimaInstance): InstanceSummary {
  const marker = inst.state === "running" ? liveWrap(inst) : null;
  return {
    name: inst.hmName,
    driver: "lima",
    state: inst.state,
    pid: inst.vmPid,
    accel: marker?.accel ?? null,
    ssh: inst.state === "running" ? inst.ssh : null,
    slots: { total: marker && !marker.conflict ? marker.slots : 0, used: 0 },
    transports: inst.state === "running" ? limaTransports(inst, marker) : [],
    mounts: 0,
  };
}

/** Every Lima instance, through its agent when it has one. */
export async function limaSummaries(summarize: (name: string) => Promise<InstanceSummary>): Promise<InstanceSummary[]> {
  return Promise.all(listLimaInstances().map((i) => (agentUp(i.hmName) && existsSync(instancePaths(i.hmName).config) ? summarize(i.hmName) : limaSummary(i))));
}

/** The summary of `name` when it is a Lima instance without an agent; null otherwise. */
export function foreignSummary(name: string): InstanceSummary | null {
  if (agentUp(name) && existsSync(instancePaths(name).config)) return null;
  const inst = limaInstanceByHmName(name);
  return inst ? limaSummary(inst) : null;
}

/** Writes instance.json for a running Lima instance, fresh from its ssh.config and the wrapper's marker. */
export function registerLima(inst: LimaInstance): InstanceConfig {
  if (!inst.ssh) {
    throw new HotmountError("SSH_FAILED", `Lima instance "${inst.limaName}" has no usable ssh.config in ${inst.dir}`, {
      hint: "Lima writes it when the instance starts: wait for `limactl start` to finish, or restart the instance.",
    });
  }
  const marker = liveWrap(inst);
  const wrapped = !!marker && !marker.conflict;
  const cfg = InstanceConfigSchema.parse({
    name: inst.hmName,
    driver: "lima",
    external: "lima",
    memoryMiB: Math.max(128, wrapped ? marker!.memoryMiB : inst.memoryMiB),
    cpus: Math.max(1, wrapped ? marker!.cpus : inst.cpus),
    slots: wrapped ? marker!.slots : 0,
    ninePSlots: wrapped ? marker!.ninePSlots : 0,
    kernel: "",
    append: "",
    ssh: inst.ssh,
  });
  mkdirSync(instancePaths(inst.hmName).dir, { recursive: true, mode: 0o700 });
  // The journal of an earlier VM run (Lima restarted it behind our back) names mounts that are gone.
  const prev = readLimaLink(inst.hmName);
  if (prev?.vmPid && prev.vmPid !== inst.vmPid) rmSync(instancePaths(inst.hmName).journal, { force: true });
  writeLimaLink(inst.hmName, { limaDir: inst.dir, limaName: inst.limaName, vmPid: inst.vmPid });
  writeInstanceConfig(cfg);
  return cfg;
}

/** Makes sure a running Lima instance called `name` has an agent; false when `name` is no Lima instance. */
export async function ensureForeignAgent(name: string): Promise<boolean> {
  const inst = limaInstanceByHmName(name);
  if (!inst) return ensureLibvirtAgent(name);
  if (inst.state !== "running") {
    throw new HotmountError("INSTANCE_NOT_RUNNING", `Lima instance "${inst.limaName}" is not running`, { hint: `Start it: limactl start ${inst.limaName}` });
  }
  ensureHome();
  mkdirSync(instancePaths(name).dir, { recursive: true, mode: 0o700 });
  await withLock(
    instancePaths(name).lock,
    `instance "${name}"`,
    async () => {
      if (agentUp(name)) return;
      registerLima(inst);
      await startAgent(name);
    },
    30_000,
  );
  return true;
}

/** Registers the running libvirt domain listed as `name` and starts its agent; false when there is no such domain. */
async function ensureLibvirtAgent(name: string): Promise<boolean> {
  const reg = readExternal(name);
  // One of hotmount's own VMs (or a Lima or adopted one) is never a libvirt domain.
  if (reg !== null && reg !== "libvirt") return false;
  if (reg === null && existsSync(instancePaths(name).config)) return false;
  if (agentUp(name)) return true;
  ensureHome();
  const existed = existsSync(instancePaths(name).dir);
  mkdirSync(instancePaths(name).dir, { recursive: true, mode: 0o700 });
  let found = true;
  await withLock(
    instancePaths(name).lock,
    `instance "${name}"`,
    async () => {
      if (agentUp(name)) return;
      if (!(await libvirtDriver.register(name))) {
        found = false;
        return;
      }
      await startAgent(name);
    },
    30_000,
  );
  if (!found && !existed) rmSync(instancePaths(name).dir, { recursive: true, force: true });
  return found;
}

/**
 * `vm start NAME` for an instance hotmount did not boot: attach an agent when the VM runs; refuse
 * otherwise, saying who starts it. Returns false when `name` is an ordinary hotmount VM.
 */
export async function startExternal(name: string, progress: Progress): Promise<boolean> {
  const kind = readExternal(name) ?? (limaInstanceByHmName(name) ? "lima" : null);
  if (kind === "lima") {
    progress("attaching to the Lima instance");
    return ensureForeignAgent(name);
  }
  if (kind === "libvirt") {
    progress("attaching to the libvirt domain");
    return ensureLibvirtAgent(name);
  }
  if (kind !== "run") return false;
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
