// The driver registry: the only place that names concrete drivers.
import { HotmountError } from "../src/core/errors.ts";
import type { Driver } from "./driver.ts";
import { libvirtDriver } from "./libvirt/index.ts";
import { limaDriver } from "./lima/index.ts";
import { qemuDriver } from "./qemu/index.ts";
import { createVzDriver } from "./vz/vz-driver.ts";

const DRIVERS: Record<string, Driver> = { qemu: qemuDriver, vz: createVzDriver(), lima: limaDriver, libvirt: libvirtDriver };

/** QEMU on Linux hosts, Virtualization.framework on macOS. */
export function defaultDriverName(): string {
  return process.platform === "darwin" ? "vz" : "qemu";
}

export const DRIVER_NAMES = Object.keys(DRIVERS);

export function getDriver(name: string): Driver {
  const d = DRIVERS[name];
  if (!d) throw new HotmountError("UNSUPPORTED", `unknown driver "${name}"`, { hint: `Known drivers: ${Object.keys(DRIVERS).join(", ")}.` });
  return d;
}
