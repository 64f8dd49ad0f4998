// The QEMU driver: hotmount boots the VM (VmLifecycle) and hot-plugs through QMP (QemuSession).
// What else the rest of hotmount needs from it (host tool probes for `doctor` and the benchmark,
// the command-line rewriting `hotmount run` uses) is exported here and re-exported by the registry.
import type { Driver, VmLifecycle } from "../driver.ts";
import { QemuSession } from "./qemu-session.ts";
import { startVm, stopVm, vmStatus } from "./lifecycle.ts";

export const qemuDriver: Driver & VmLifecycle = {
  name: "qemu",
  start: startVm,
  status: vmStatus,
  stop: stopVm,
  openSession: (cfg, log) => QemuSession.open(cfg, log),
};

export { chooseAccel, kvmUsable } from "./accel.ts";
export { findVirtiofsd, qemuBinary, qemuLaunchArgv, qemuVersion } from "./host-tools.ts";
export { prepareWrapDirs } from "./instance-dirs.ts";
export { wrapQemuArgv } from "./argv-rewrite.ts";
export { virtiofsTuning } from "./virtiofs-tuning.ts";
export { rustSandbox } from "./virtiofsd-sandbox.ts";
