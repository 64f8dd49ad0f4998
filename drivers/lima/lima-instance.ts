// Lima instances as hotmount sees them: one directory per instance under $LIMA_HOME with a
// lima.yaml. Its state comes from the pid files Lima keeps there: <vmType>.pid (written by QEMU's
// -pidfile) while the VM runs, ha.pid while Lima's host agent runs.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import type { SshInfo } from "../../src/core/model.ts";
import { INSTANCE_NAME_RE } from "../../src/core/instance-config.ts";
import { instancePaths, limaLinkPath } from "../../src/core/paths.ts";
import { cmdlineOf, isAlive, readPidFile } from "../../src/util/process.ts";
import { parseSizeMiB } from "../qemu/argv-rewrite.ts";
import { isLimaReservedName, LIMA_FILES, limaHome, vmPidFile } from "./lima-paths.ts";
import { limaSshTarget } from "./ssh-config.ts";

export type LimaState = "running" | "starting" | "stopped";

export interface LimaInstance {
  limaName: string;
  dir: string;
  /** The name hotmount lists it under (see hmNameFor). */
  hmName: string;
  vmType: string;
  arch: string;
  /** From lima.yaml, or Lima's default when the file leaves it out. */
  mountType: string;
  cpus: number;
  memoryMiB: number;
  ssh: SshInfo | null;
  /** The live VM process (QEMU), if any. */
  vmPid: number | null;
  haPid: number | null;
  state: LimaState;
}

/** Lima's arch names → QEMU's (Lima's qemuArch): the suffix of qemu-system-* and QEMU_SYSTEM_*. */
export function qemuArchOf(arch: string): string {
  return arch === "armv7l" ? "arm" : arch === "ppc64le" ? "ppc64" : arch;
}

export function hostArch(): string {
  return process.arch === "arm64" ? "aarch64" : process.arch === "x64" ? "x86_64" : process.arch;
}

/**
 * A Lima instance keeps its own name in hotmount when that is a valid hotmount name not taken by
 * one of hotmount's own VMs; otherwise it is listed as lima-<name>.
 */
export function hmNameFor(limaName: string): string {
  const ownVm = (n: string) => existsSync(instancePaths(n).config) && !existsSync(limaLinkPath(n));
  if (INSTANCE_NAME_RE.test(limaName) && !ownVm(limaName)) return limaName;
  return `lima-${limaName.toLowerCase().replace(/[^a-z0-9-]/g, "-")}`.slice(0, 31).replace(/-+$/, "");
}

interface LimaYaml {
  vmType?: string;
  arch?: string;
  mountType?: string;
  cpus?: number;
  memory?: string;
}

function readYaml(dir: string): LimaYaml | null {
  try {
    const y = Bun.YAML.parse(readFileSync(join(dir, LIMA_FILES.yaml), "utf8"));
    return y && typeof y === "object" ? (y as LimaYaml) : {};
  } catch {
    return null;
  }
}

/** A pid from a pid file, only if that process is alive (and, where /proc exists, mentions `needle`). */
function livePidFrom(file: string, needle: string | null): number | null {
  const pid = readPidFile(file);
  if (!pid || !isAlive(pid)) return null;
  if (needle) {
    const argv = cmdlineOf(pid);
    if (argv.length && !argv.some((a) => a.includes(needle))) return null; // a reused pid
  }
  return pid;
}

/** Lima's defaults for what lima.yaml may leave out (pkg/limayaml defaults, Lima ≥ 1.0). */
function defaults(y: LimaYaml, dir: string): { vmType: string; mountType: string } {
  const vmType = y.vmType ?? (process.platform === "darwin" ? "vz" : "qemu");
  let mountType = y.mountType;
  if (!mountType || mountType === "default") {
    const ver = (() => {
      try {
        return readFileSync(join(dir, LIMA_FILES.version), "utf8").trim();
      } catch {
        return "";
      }
    })();
    const old = /^0\./.test(ver);
    mountType = vmType === "vz" ? "virtiofs" : old ? "reverse-sshfs" : "9p";
  }
  return { vmType, mountType };
}

export function readLimaInstance(dir: string): LimaInstance | null {
  const y = readYaml(dir);
  if (!y) return null;
  const limaName = basename(dir);
  const { vmType, mountType } = defaults(y, dir);
  const vmPid = livePidFrom(vmPidFile(dir, vmType), dir);
  const haPid = livePidFrom(join(dir, LIMA_FILES.haPid), null);
  const state: LimaState = vmPid ? "running" : haPid ? "starting" : "stopped";
  return {
    limaName,
    dir,
    hmName: hmNameFor(limaName),
    vmType,
    arch: y.arch && y.arch !== "default" ? y.arch : hostArch(),
    mountType,
    cpus: typeof y.cpus === "number" && y.cpus > 0 ? y.cpus : 4,
    memoryMiB: (typeof y.memory === "string" && parseSizeMiB(y.memory.replace(/i?B$/i, ""))) || 4096,
    ssh: limaSshTarget(join(dir, LIMA_FILES.sshConfig), limaName),
    vmPid,
    haPid,
    state,
  };
}

export function listLimaInstances(home = limaHome()): LimaInstance[] {
  let names: string[] = [];
  try {
    names = readdirSync(home)
      .filter((n) => !isLimaReservedName(n))
      .sort();
  } catch {
    return [];
  }
  return names.map((n) => (existsSync(join(home, n, LIMA_FILES.yaml)) ? readLimaInstance(join(home, n)) : null)).filter((i): i is LimaInstance => i !== null);
}

/** The Lima instance hotmount lists as `hmName`: a registered link first, else discovery. */
export function limaInstanceByHmName(hmName: string): LimaInstance | null {
  try {
    const link = JSON.parse(readFileSync(limaLinkPath(hmName), "utf8")) as { limaDir?: string };
    if (link.limaDir && existsSync(join(link.limaDir, LIMA_FILES.yaml))) {
      const inst = readLimaInstance(link.limaDir);
      if (inst) return { ...inst, hmName };
    }
  } catch {}
  return listLimaInstances().find((i) => i.hmName === hmName) ?? null;
}
