// Opt-in persistence (`mount add --persist`): the mount is recorded in the instance config, and
// the agent applies it again when the VM starts and after the guest reboots.
import type { Logger } from "../../drivers/driver.ts";
import { type InstanceConfig, writeInstanceConfig } from "../core/instance-config.ts";
import { asHotmountError, type HotmountError } from "../core/errors.ts";
import { newMountId } from "./mount-id.ts";
import type { MountRecord } from "./journal.ts";

export type PersistentMount = InstanceConfig["persistentMounts"][number];

export class PersistentMounts {
  constructor(
    private readonly cfg: InstanceConfig,
    private readonly log: Logger,
  ) {}

  list(): PersistentMount[] {
    return [...this.cfg.persistentMounts];
  }

  remember(rec: MountRecord): void {
    const entry: PersistentMount = { hostPath: rec.hostPath, mountPoint: rec.mountPoint, type: rec.type, writable: rec.writable };
    this.cfg.persistentMounts = [...this.cfg.persistentMounts.filter((m) => m.mountPoint !== rec.mountPoint), entry];
    this.save();
  }

  forget(mountPoint: string): void {
    const before = this.cfg.persistentMounts.length;
    this.cfg.persistentMounts = this.cfg.persistentMounts.filter((m) => m.mountPoint !== mountPoint);
    if (this.cfg.persistentMounts.length !== before) this.save();
  }

  private save(): void {
    writeInstanceConfig(this.cfg);
    this.log.info("persistent mounts saved", { count: this.cfg.persistentMounts.length });
  }
}

/** The failed record that keeps a persistent mount that could not be applied visible (`err` says why). */
export function notAppliedRecord(instance: string, p: PersistentMount, err: HotmountError): MountRecord {
  return {
    id: newMountId(),
    instance,
    ...p,
    persist: true,
    state: "failed",
    createdAt: new Date().toISOString(),
    createdDir: false,
    error: {
      code: err.code,
      message: `persistent mount not applied: ${err.message}`,
      hint: err.hint ?? "Fix the cause, then `hotmount vm stop` and `vm start` again, or remove it.",
    },
  };
}

/** What re-applying needs of the mount service (called inside its queue). */
export interface ReapplyOps {
  instance: string;
  log: Logger;
  existing(mountPoint: string): MountRecord | undefined;
  /** Removes a stale record's mount (forced); on failure the record is dropped. */
  clear(rec: MountRecord): Promise<void>;
  add(p: PersistentMount): Promise<unknown>;
  /** Keeps a record that is not mounted (journaled, listed). */
  keep(rec: MountRecord): void;
}

/** Applies every persistent mount that is not ready (VM start, guest reboot). */
export async function reapplyPersistent(list: PersistentMount[], ops: ReapplyOps): Promise<void> {
  for (const p of list) {
    const old = ops.existing(p.mountPoint);
    if (old?.state === "ready") continue;
    if (old) await ops.clear(old);
    await ops.add(p).catch((e) => {
      const err = asHotmountError(e);
      ops.log.warn("could not apply a persistent mount", { mountPoint: p.mountPoint, error: err.message });
      // Keep it visible: a failed record the user can see, remove, or that the next start retries.
      ops.keep(notAppliedRecord(ops.instance, p, err));
    });
  }
}
