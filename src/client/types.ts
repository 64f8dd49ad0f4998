// The one client the CLI commands and the TUI use (implemented by client/local-client.ts): it
// talks to the per-instance agents, brings back an agent that died under a running VM, and for a
// stopped instance reads its on-disk config.
import type { Info, InstanceSummary, Mount, MountRequest } from "../agent/api.ts";

export interface RemoveOptions {
  /** Unmount lazily even when a guest process holds the mount busy. */
  force?: boolean;
}

export interface StartOptions {
  memoryMiB?: number;
  cpus?: number;
  slots?: number;
  ninePSlots?: number;
  kernel?: string;
  initrd?: string;
  append?: string;
  accel?: "auto" | "kvm" | "tcg";
  driver?: string;
  /** `--mount HOST:GUEST[:ro]` values: static virtiofs shares; absent keeps the previous ones. */
  mounts?: string[];
  /** `--image debian|PATH`: boot a disk image (cloud-init, user dev) instead of the demo guest. */
  image?: string;
  /** `--arch x86_64|aarch64`: the guest's architecture (default: the host's). */
  arch?: "x86_64" | "aarch64";
}

export interface HotmountClient {
  listInstances(): Promise<InstanceSummary[]>;
  /** One instance's `vm list` row. */
  summary(instance: string): Promise<InstanceSummary>;
  info(instance: string): Promise<Info>;
  listMounts(instance: string): Promise<Mount[]>;
  /** The mounts of every running instance. */
  listAllMounts(): Promise<Mount[]>;
  addMount(instance: string, req: MountRequest): Promise<Mount>;
  removeMount(instance: string, idOrMountPoint: string, opts?: RemoveOptions): Promise<void>;
  startVm(instance: string, opts?: StartOptions, onProgress?: (step: string) => void): Promise<void>;
  stopVm(instance: string, onProgress?: (step: string) => void): Promise<void>;
  /** The last lines of the instance's agent log. */
  agentLog(instance: string, lines: number): Promise<string[]>;
}
