// After an agent (re)start: make the journal, the hypervisor and the guest agree. An operation
// that was under way when the last agent died is finished backwards (fully gone); a ready mount
// is checked in the guest and against the driver's inventory; anything of ours that no record
// names is removed.
import { asFSHotPlugger, type DriverSession, type Logger } from "../../drivers/driver.ts";
import type { GuestExec } from "../guest-exec/index.ts";
import { guestMounts, unmount } from "./guest-mount.ts";
import type { MountService } from "./mount-service.ts";
import { isMountId } from "../core/validate.ts";

export async function reconcile(service: MountService, session: DriverSession, guest: () => Promise<GuestExec>, log: Logger): Promise<void> {
  const hp = asFSHotPlugger(session);
  const inv = hp ? await hp.inventory() : { devices: [], backends: [] };
  const g = await guest();
  const mounted = new Set((await guestMounts(g)).map((m) => m.mountPoint));
  const known = new Set<string>();

  for (const rec of service.allRecords()) {
    known.add(rec.id);
    if (rec.state === "adding" || rec.state === "removing") {
      log.warn("finishing an interrupted operation by removing the mount", { id: rec.id, state: rec.state });
      // Unmount before any unplug (a device pulled from under a mount stalls the guest).
      if (mounted.has(rec.mountPoint)) {
        const r = await unmount(g, rec.mountPoint, { lazy: false, timeoutMs: 10_000 });
        if (!r.ok) await unmount(g, rec.mountPoint, { lazy: true, timeoutMs: 10_000 });
      }
      if (hp && rec.type !== "reverse-sshfs") await hp.scrub(rec.id);
      if (rec.createdDir) await g.exec(["rmdir", "--", rec.mountPoint], { timeoutMs: 10_000 }).catch(() => {});
      service.forget(rec.id);
      continue;
    }
    if (rec.type === "reverse-sshfs") {
      // Its SSH session died with the previous agent: start a new one.
      await service.reattach(rec).catch((e) => log.warn("could not re-establish reverse-sshfs", { id: rec.id, error: String(e) }));
      continue;
    }
    const problems: string[] = [];
    if (!mounted.has(rec.mountPoint)) problems.push("not mounted in the guest (was the guest rebooted?)");
    if (!inv.devices.some((d) => d.id === rec.id)) problems.push("its device is gone from the VM");
    if (rec.type === "virtiofs" && !inv.backends.some((b) => b.kind === "virtiofsd" && b.id === rec.id)) problems.push("its virtiofsd is not running");
    if (problems.length) service.markFailed(rec.id, problems.join("; "), "Remove it (`hotmount mount remove ... --force`) and add it again.");
    else log.info("mount confirmed", { id: rec.id });
  }

  if (!hp) return;
  const strays = new Set([...inv.devices.map((d) => d.id), ...inv.backends.map((b) => b.id)].filter((id) => isMountId(id) && !known.has(id)));
  for (const id of strays) {
    log.warn("removing a leftover device with no record", { id });
    await hp.scrub(id);
  }
}
