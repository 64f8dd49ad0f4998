import type { Driver } from "../driver.ts";
import { QemuSession } from "./session.ts";
import { startVm, stopVm, vmStatus } from "./vm.ts";

export const qemuDriver: Driver = {
  name: "qemu",
  start: startVm,
  status: vmStatus,
  stop: stopVm,
  openSession: (cfg, log) => QemuSession.open(cfg, log),
};
