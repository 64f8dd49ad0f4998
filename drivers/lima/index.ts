// The lima driver: Lima's instances, seen from hotmount. Lima starts and stops them, so the driver
// has no VmLifecycle; it finds them itself (VmDiscovery), and hotmount attaches an agent to a
// running one (reverse-sshfs always; virtiofs and 9p when its QEMU was started through hotmount's
// wrapper, see lima-wrap.ts). The wrapper's pieces the CLI needs are exported here too.
import type { Driver, RuntimeStatus, VmDiscovery } from "../driver.ts";
import { HotmountError } from "../../src/core/errors.ts";
import type { InstanceConfig } from "../../src/core/instance-config.ts";
import { cmdlineOf } from "../../src/util/process.ts";
import { qemuAccel } from "../qemu/argv-rewrite.ts";
import { discoverLima, registerLima } from "./lima-discovery.ts";
import { limaInstanceByHmName } from "./lima-instance.ts";
import { openLimaSession } from "./lima-session.ts";
import { liveWrap } from "./wrap-marker.ts";

export async function limaStatus(cfg: InstanceConfig): Promise<RuntimeStatus> {
  const inst = limaInstanceByHmName(cfg.name);
  if (!inst || inst.state === "stopped") return { state: "stopped", pid: null, accel: null };
  if (inst.state === "starting" || !inst.vmPid) return { state: "starting", pid: null, accel: null };
  const argv = liveWrap(inst)?.argv ?? cmdlineOf(inst.vmPid);
  return { state: "running", pid: inst.vmPid, accel: argv.length ? qemuAccel(argv.slice(1)) : null };
}

function lifecycleRefusal(cfg: InstanceConfig, op: "start" | "stop"): HotmountError {
  const n = limaInstanceByHmName(cfg.name)?.limaName ?? cfg.name;
  if (op === "start") {
    return new HotmountError("UNSUPPORTED", `"${cfg.name}" is a Lima instance: Lima starts it, not hotmount`, {
      hint: `Start it with \`limactl start ${n}\` (through hotmount's QEMU wrapper for virtiofs/9p; see docs/lima.md).`,
    });
  }
  // Reached after the agent removed every mount and exited: the VM itself is Lima's.
  return new HotmountError(
    "UNSUPPORTED",
    `hotmount removed its mounts from Lima instance "${n}" and detached; the VM itself belongs to Lima and keeps running`,
    {
      hint: `Stop the VM with \`limactl stop ${n}\`.`,
    },
  );
}

export const limaDriver: Driver & VmDiscovery = {
  name: "lima",
  status: limaStatus,
  openSession: openLimaSession,
  lifecycleRefusal,
  discover: discoverLima,
  register: registerLima,
};

export { hostArch } from "./lima-instance.ts";
export { installShim, wrapLimaLaunch } from "./lima-wrap.ts";
export { recordWrappedPid } from "./wrap-marker.ts";
