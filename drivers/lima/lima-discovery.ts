// Lima instances found in $LIMA_HOME, as `vm list` rows, and their registration as hotmount
// instances: an instance dir with instance.json (fresh from Lima's ssh.config and the wrapper's
// marker) and a link back to the Lima instance, so that the usual agent can attach.
import { mkdirSync, rmSync } from "node:fs";
import type { DiscoveredVm } from "../../src/core/model.ts";
import { HotmountError } from "../../src/core/errors.ts";
import { type InstanceConfig, InstanceConfig as InstanceConfigSchema, writeInstanceConfig } from "../../src/core/instance-config.ts";
import { instancePaths } from "../../src/core/paths.ts";
import { limaInstanceByHmName, listLimaInstances, type LimaInstance } from "./lima-instance.ts";
import { limaTransports } from "./lima-session.ts";
import { liveWrap, readLimaLink, writeLimaLink } from "./wrap-marker.ts";

/** `vm list` row of a Lima instance without an agent: what Lima's files and the wrapper's marker say. */
export function limaRow(inst: LimaInstance): DiscoveredVm {
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

export async function discoverLima(): Promise<DiscoveredVm[]> {
  return listLimaInstances().map(limaRow);
}

/** Writes instance.json for the running Lima instance listed as `name`; null when there is none. */
export async function registerLima(name: string): Promise<InstanceConfig | null> {
  const inst = limaInstanceByHmName(name);
  if (!inst) return null;
  if (inst.state !== "running") {
    throw new HotmountError("INSTANCE_NOT_RUNNING", `Lima instance "${inst.limaName}" is not running`, { hint: `Start it: limactl start ${inst.limaName}` });
  }
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
