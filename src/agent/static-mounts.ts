// Static virtiofs shares (`vm start --mount`): the device is there from boot, so the agent only
// mounts it in the guest once, and lists it beside the hot mounts with `static: true`. It cannot
// be removed while the VM runs (a device on the root bus cannot be unplugged); no journal entry,
// since the instance config already says what it is.
import type { Logger } from "../../drivers/driver.ts";
import { asHotmountError, HotmountError } from "../core/errors.ts";
import type { InstanceConfig } from "../core/instance-config.ts";
import { guestMountArgv } from "../core/mount-options.ts";
import { normalizeGuestPath } from "../core/validate.ts";
import type { GuestCommands } from "../guest-exec/index.ts";
import type { Mount } from "./api.ts";
import { createMountPoint, guestMounts, mountWithRetry } from "./guest-mount.ts";

/** Mounts every static share that is not mounted yet; a failure marks that share, not the agent. */
export async function mountStaticShares(cfg: InstanceConfig, guest: GuestCommands, log: Logger, since: string): Promise<Mount[]> {
  if (!cfg.staticMounts.length) return [];
  const mounted = await guestMounts(guest);
  const out: Mount[] = [];
  for (const s of cfg.staticMounts) {
    const m: Mount = {
      id: s.tag,
      instance: cfg.name,
      hostPath: s.hostPath,
      mountPoint: s.mountPoint,
      type: "virtiofs",
      writable: s.writable,
      persist: true,
      state: "ready",
      tag: s.tag,
      createdAt: since,
      static: true,
    };
    try {
      if (!mounted.some((e) => e.mountPoint === s.mountPoint && e.source === s.tag)) {
        await createMountPoint(guest, s.mountPoint);
        await mountWithRetry(guest, guestMountArgv({ type: "virtiofs", tag: s.tag, mountPoint: s.mountPoint, writable: s.writable }), s.mountPoint);
      }
      log.info("static share mounted", { tag: s.tag, mountPoint: s.mountPoint });
    } catch (e) {
      const err = asHotmountError(e);
      m.state = "failed";
      m.error = {
        code: "MOUNT_BROKEN",
        message: `static share ${s.tag}: ${err.message}`,
        hint: "See `hotmount vm logs NAME --agent`; restart the VM to retry.",
      };
      log.warn("static share not mounted", { tag: s.tag, error: err.message });
    }
    out.push(m);
  }
  return out;
}

/** The static share a remove request names (by tag or guest path), if any. */
export function findStatic(statics: readonly Mount[], key: string): Mount | undefined {
  let mp = key;
  try {
    if (key.startsWith("/")) mp = normalizeGuestPath(key);
  } catch {}
  return statics.find((m) => m.id === key || m.mountPoint === mp);
}

export function staticRemoveError(m: Mount): HotmountError {
  return new HotmountError("UNSUPPORTED", `${m.mountPoint} is a static share configured at boot (vm start --mount); it cannot be removed while the VM runs`, {
    hint: `Stop the VM and start it again without that --mount: \`hotmount vm stop ${m.instance}\`.`,
  });
}
