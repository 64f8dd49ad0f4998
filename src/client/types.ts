// What the CLI's --json commands and the TUI use: everything goes through this client, which
// talks to the per-instance agents (and, for a stopped instance, reads its on-disk config).
import type { Info, InstanceSummary, Mount, MountRequest } from "../agent/api.ts";

export interface RemoveOptions {
  /** Unmount lazily even when a guest process holds the mount busy. */
  force?: boolean;
}

export interface StartOptions {
  memoryMiB?: number;
  cpus?: number;
  slots?: number;
}

export interface HotmountClient {
  listInstances(): Promise<InstanceSummary[]>;
  info(instance: string): Promise<Info>;
  listMounts(instance: string): Promise<Mount[]>;
  addMount(instance: string, req: MountRequest): Promise<Mount>;
  removeMount(instance: string, idOrMountPoint: string, opts?: RemoveOptions): Promise<void>;
  startVm(instance: string, opts?: StartOptions, onProgress?: (step: string) => void): Promise<void>;
  stopVm(instance: string, onProgress?: (step: string) => void): Promise<void>;
  /** The last lines of the instance's agent log. */
  agentLog(instance: string, lines: number): Promise<string[]>;
}
