// When the VM stops under a running agent (a guest poweroff, `virsh destroy` or `virsh shutdown`
// of a libvirt domain, a crash), its mounts ended with it. Each is recorded as failed with why
// (events, audit log); whatever of ours still backs a device is ended (a virtiofsd that lingers,
// libvirt's wrapper files); and the journal keeps only the persistent mounts, which the next start
// applies again. So a VM that is started again begins clean: `mount add` to the same guest folder
// works, and `mount list` names nothing that is not there.
import { asFSHotPlugger, type DriverSession, type Logger } from "../../drivers/driver.ts";
import type { MountService } from "./mount-service.ts";

/** libvirt may be slow to answer right after a domain ended; the agent exits after this anyway. */
const SCRUB_BOUND_MS = 20_000;

export async function endMountsOfStoppedVm(service: MountService, session: DriverSession, log: Logger, why: string): Promise<void> {
  const hp = asFSHotPlugger(session);
  const records = service.allRecords();
  for (const rec of records) {
    service.markFailed(
      rec.id,
      `${why} while mounted`,
      rec.persist ? "A persistent mount: the next start of the VM applies it again." : "The mount ended with the VM; add it again after the VM is started.",
    );
  }
  if (hp) {
    const scrubs = records
      .filter((r) => r.type !== "reverse-sshfs")
      .map((r) => hp.scrub(r.id).catch((e) => log.warn("cleanup after the VM stopped failed", { id: r.id, error: String(e) })));
    const started = Date.now();
    await Promise.race([Promise.all(scrubs), new Promise((r) => setTimeout(r, SCRUB_BOUND_MS).unref())]);
    log.info("cleanup after the VM stopped", { ms: Date.now() - started });
  }
  for (const rec of records) if (!rec.persist) service.forget(rec.id);
}
