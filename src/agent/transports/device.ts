// virtiofs and 9p: a device the driver hot-plugs, mounted by the guest's mount(8).
import { asFSHotPlugger, requireFSHotPlugger } from "../../../drivers/driver.ts";
import { guestMountArgv } from "../../core/mount-options.ts";
import { checkExit } from "../../guest-exec/index.ts";
import { mountWithRetry } from "../guest-mount.ts";
import type { MountRecord } from "../journal.ts";
import type { GuestOwner } from "../../core/mount-options.ts";
import { guestOwner } from "./guest-owner.ts";
import type { TransportContext, MountTransport } from "./types.ts";

export function deviceTransport(ctx: TransportContext): MountTransport {
  // A user's uid/gid found once stays (one guest command less per mount); not finding one is asked again.
  let knownOwner: GuestOwner | undefined;
  const owner = async () => (knownOwner ??= await guestOwner(await ctx.guest(), ctx.cfg.ssh.user));
  return {
    async attach(rec, progress) {
      const hp = requireFSHotPlugger(ctx.session, rec.type);
      if (rec.type === "reverse-sshfs") throw new Error("not a device transport");
      // Only virtiofs can map ownership (with the Rust virtiofsd); 9p's fsdevs are fixed at boot.
      const o = rec.type === "virtiofs" && ctx.cfg.ssh.user !== "root" ? await owner() : undefined;
      rec.device = await hp.plug({ id: rec.id, type: rec.type, hostPath: rec.hostPath, writable: rec.writable, owner: o }, progress);
      rec.tag = rec.device.tag;
      rec.slot = rec.device.slot;
    },
    async mount(rec, progress, opts) {
      progress("mounting in the guest");
      const guest = await ctx.guest();
      await mountWithRetry(
        guest,
        guestMountArgv({ type: rec.type, tag: rec.tag ?? rec.id, mountPoint: rec.mountPoint, writable: rec.writable }),
        rec.mountPoint,
        { mkdir: opts?.mkdir },
      );
    },
    async detach(rec: MountRecord, progress) {
      // A session that cannot hot-plug never attached a device: nothing to take away.
      const hp = asFSHotPlugger(ctx.session);
      if (!hp) return;
      const guest = async (argv: string[]) => void checkExit(argv, await (await ctx.guest()).exec(argv, { timeoutMs: 10_000 }));
      if (rec.device) await hp.unplug(rec.device, progress, guest);
      else await hp.scrub(rec.id);
    },
  };
}
