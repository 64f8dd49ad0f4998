// Opt-in persistence (`mount add --persist`): the mount is recorded in the instance config, and
// the agent applies it again when the VM starts and after the guest reboots.
import type { Logger } from "../../drivers/driver.ts";
import { type InstanceConfig, writeInstanceConfig } from "../core/instance-config.ts";
import type { HotmountError } from "../core/errors.ts";
import { newMountId } from "../core/validate.ts";
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
