// After an agent (re)start: make the journal, the hypervisor and the guest agree. An operation
// that was under way when the last agent died is finished backwards (fully gone); a ready mount
// is checked in the guest and against the driver's inventory; anything of ours that no record
// names is removed.
import { asFSHotPlugger, type DriverSession, type Logger } from "../../drivers/driver.ts";
import type { GuestSsh } from "../ssh/guest-ssh.ts";
import { guestMounts, unmount } from "./guest-fs.ts";
import type { MountService } from "./mount-service.ts";

const OUR_ID = /^hm[0-9a-f]{8}$/;

export async function reconcile(service: MountService, session: DriverSession, ssh: () => Promise<GuestSsh>, log: Logger): Promise<void> {
  const hp = asFSHotPlugger(session);
  const inv = hp ? await hp.inventory() : { devices: [], backends: [] };
  const g = await ssh();
  const mounted = new Set((await guestMounts(g)).map((m) => m.mountPoint));
  const known = new Set<string>();

  for (const rec of service.allRecords()) {
    known.add(rec.id);
    if (rec.state === "adding" || rec.state === "removing") {
      log.warn("finishing an interrupted operation by removing the mount", { id: rec.id, state: rec.state });
      if (mounted.has(rec.mountPoint)) await unmount(g, rec.mountPoint, { lazy: true, timeoutMs: 10_000 });
      if (hp && rec.type !== "reverse-sshfs") await hp.scrub(rec.id);
      if (rec.createdDir) await g.exec(["rmdir", "--", rec.mountPoint], { timeoutMs: 10_000 }).catch(() => {});
      service.forget(rec.id);
      continue;
    }
    const problems: string[] = [];
    if (!mounted.has(rec.mountPoint)) problems.push("not mounted in the guest (was the guest rebooted?)");
    if (rec.type !== "reverse-sshfs" && !inv.devices.some((d) => d.id === rec.id)) problems.push("its device is gone from the VM");
    if (rec.type === "virtiofs" && !inv.backends.some((b) => b.kind === "virtiofsd" && b.id === rec.id)) problems.push("its virtiofsd is not running");
    if (rec.type === "reverse-sshfs") problems.push("its SSH session ended with the previous agent");
    if (problems.length) service.markFailed(rec.id, problems.join("; "), "Remove it (`hotmount mount remove ... --force`) and add it again.");
    else log.info("mount confirmed", { id: rec.id });
  }

  if (!hp) return;
  const strays = new Set([...inv.devices.map((d) => d.id), ...inv.backends.map((b) => b.id)].filter((id) => OUR_ID.test(id) && !known.has(id)));
  for (const id of strays) {
    log.warn("removing a leftover device with no record", { id });
    await hp.scrub(id);
  }
}
