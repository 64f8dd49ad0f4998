// The driver registry: the only place that names concrete drivers. Everything outside drivers/
// reaches a driver through `getDriver`/`allDrivers` and the capabilities in driver.ts, or through
// the few driver-specific helpers re-exported below (host probes, the QEMU and Lima wrappers).
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

export function getDriver(name: string): Driver {
  const d = DRIVERS[name];
  if (!d) throw new HotmountError("UNSUPPORTED", `unknown driver "${name}"`, { hint: `Known drivers: ${Object.keys(DRIVERS).join(", ")}.` });
  return d;
}

/** Every registered driver, for callers that look for a capability (e.g. VmDiscovery). */
export function allDrivers(): Driver[] {
  return Object.values(DRIVERS);
}

/** QEMU: host tools (`doctor`, the benchmark's host record) and adopting a command line (`hotmount run`). */
export {
  chooseAccel,
  findVirtiofsd,
  kvmUsable,
  prepareWrapDirs,
  qemuBinary,
  qemuLaunchArgv,
  qemuVersion,
  rustSandbox,
  virtiofsTuning,
  wrapQemuArgv,
} from "./qemu/index.ts";
/** Lima: hotmount's QEMU wrapper for Lima's launches (`hotmount qemu-wrap`). */
export { hostArch, installShim, recordWrappedPid, wrapLimaLaunch } from "./lima/index.ts";
/** libvirt: make a domain's persistent XML hot-plug ready (`hotmount libvirt prepare`). */
export { prepareDomain } from "./libvirt/prepare.ts";
/** libvirt: the SSH login hotmount uses for a domain (`hotmount libvirt ssh`). */
export { setLibvirtSshLogin } from "./libvirt/index.ts";
export { sshLogin as libvirtSshLogin } from "./libvirt/ssh-login.ts";
