// Which libvirt domain a hotmount instance stands for (instance.json's `libvirt` field).
import { HotmountError } from "../../src/core/errors.ts";
import type { InstanceConfig } from "../../src/core/instance-config.ts";

export interface LibvirtRef {
  uri: string;
  domain: string;
  uuid: string;
}

export function libvirtRef(cfg: InstanceConfig): LibvirtRef {
  if (!cfg.libvirt) {
    throw new HotmountError("INTERNAL", `instance "${cfg.name}" has driver libvirt but names no domain`, {
      hint: `Remove ${cfg.name}'s instance folder and add the mount again: it registers the domain afresh.`,
    });
  }
  return cfg.libvirt;
}
