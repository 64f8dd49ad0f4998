// Brings a mount back after its backend died under it (a killed virtiofsd: OOM, kill -9). Wired to
// the driver's onDeviceLost in agent-main.ts. By the time this runs the driver already answers the
// dead device's requests with EIO (drivers/qemu/dead-backends.ts), so nothing in the guest hangs;
// this marks the mount failed at once (mount list says what happened), then, in turn with other
// operations (MountService.restore): abort what the guest can abort, unplug the dead device (its
// mount then fails at once; processes inside get errors, are never killed), plug a fresh one with a
// new virtiofsd, and mount it at the same path with the same options, over the dead mount. A step
// that fails leaves the mount failed with that step's error and hint; `mount remove --force` works.
import type { DeviceLostListener, Logger, Progress } from "../../drivers/driver.ts";
import type { GuestCommands, GuestExec } from "../guest-exec/index.ts";
import { abortDeadMount, detachDeadMount } from "./guest-abort.ts";
import { guestMounts, unmount } from "./guest-mount.ts";
import type { MountRecord } from "./journal.ts";
import type { MountService } from "./mount-service.ts";
import type { MountTransport } from "./transports/types.ts";

const quiet: Progress = () => {};
const WHY = "its virtiofsd died";

export interface HealDeps {
  service: MountService;
  guest(): Promise<GuestExec>;
  log: Logger;
  instance: string;
}

/** The onDeviceLost listener: mark failed now, bring it back in the mount service's queue. */
export function healDeadBackend(d: HealDeps): DeviceLostListener {
  return (id, why) => {
    const rec = d.service.allRecords().find((r) => r.id === id);
    if (!rec || rec.state === "removing") return;
    d.service.markFailed(
      id,
      `${why} while mounted`,
      `hotmount is bringing it back (fresh virtiofsd, mounted again at ${rec.mountPoint}); if it stays failed: \`hotmount mount remove ${d.instance} ${rec.mountPoint} --force\`, then add it again.`,
    );
    const t0 = Date.now();
    void d.service
      .restore(id, WHY, (r, t) => healSteps(d, r, t))
      .then((ok) => d.log.info(ok ? "dead backend healed" : "dead backend not healed", { id, ms: Date.now() - t0 }))
      .catch((e) => d.log.error("healing a dead backend failed", { id, error: String(e) }));
  };
}

async function healSteps(d: HealDeps, rec: MountRecord, t: MountTransport): Promise<void> {
  const guest = await d.guest();
  const a = await abortDeadMount(guest, rec.mountPoint);
  d.log.info("dead backend: guest side", { id: rec.id, fstype: a.fstype, device: a.device, aborted: a.aborted, detail: a.detail });
  // The dead mount stays where it is until the new one covers it: a path left bare for a moment
  // would take a writer's data into the folder underneath, unseen (measured: it did). Once its
  // device is gone, everything on the dead mount fails at once (ENOTCONN).
  await t.detach(rec, quiet);
  // The old device is gone: a failure from here on must not leave the record naming it (its slot is free).
  delete rec.device;
  delete rec.slot;
  await keepOneDeadLayer(guest, rec);
  await t.attach(rec, quiet);
  try {
    await t.mount(rec, quiet); // on top of the dead mount; removal unmounts both (guest-unmount.ts)
  } catch (e) {
    d.log.warn("mounting over the dead mount failed; unmounting it first", { id: rec.id, error: String(e) });
    await detachDeadMount(guest, rec.mountPoint);
    await t.mount(rec, quiet);
  }
}

/**
 * Every mount of the device at the path is dead now (earlier heals left theirs under the one that
 * died). Lazily unmounting all but the lowest never bares the path (a dead mount shows through,
 * failing at once), and keeps one dead layer under the new mount instead of one per heal.
 */
async function keepOneDeadLayer(guest: GuestCommands, rec: MountRecord): Promise<void> {
  const tag = rec.tag ?? rec.id;
  const layers = (await guestMounts(guest)).filter((m) => m.mountPoint === rec.mountPoint && m.source === tag).length;
  for (let i = 1; i < layers; i++) await unmount(guest, rec.mountPoint, { lazy: true, timeoutMs: 5000 });
}
