// When the VM stops under a running agent (a guest poweroff, `virsh destroy` or `virsh shutdown`
// of a libvirt domain, a crash), its mounts ended with it. Each is recorded as failed with why
// (events, audit log); whatever of ours still backs a device is ended (a virtiofsd that lingers,
// libvirt's wrapper files); and the journal keeps only the persistent mounts, which the next start
// applies again. So a VM that is started again begins clean: `mount add` to the same guest folder
// works, and `mount list` names nothing that is not there.
import { asFSHotPlugger, type DriverSession, type Logger } from "../../drivers/driver.ts";
import type { MountService } from "./mount-service.ts";

const SCRUB_BOUND_MS = 5000;

export async function endMountsOfStoppedVm(service: MountService, session: DriverSession, log: Logger, why: string): Promise<void> {
  const hp = asFSHotPlugger(session);
  for (const rec of service.allRecords()) {
    service.markFailed(
      rec.id,
      `${why} while mounted`,
      rec.persist ? "A persistent mount: the next start of the VM applies it again." : "The mount ended with the VM; add it again after the VM is started.",
    );
    if (hp && rec.type !== "reverse-sshfs") {
      const scrub = hp.scrub(rec.id).catch((e) => log.warn("cleanup after the VM stopped failed", { id: rec.id, error: String(e) }));
      await Promise.race([scrub, new Promise((r) => setTimeout(r, SCRUB_BOUND_MS).unref())]);
    }
    if (!rec.persist) service.forget(rec.id);
  }
}
