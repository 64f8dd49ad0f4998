// Static virtiofs shares (`vm start --mount HOST:GUEST`): one virtiofsd per share, started before
// QEMU (its vhost-user-fs-pci device connects at boot, and the C virtiofsd serves exactly one
// connection), with the same flags as a hot-plugged share so the two compare like for like.
// They stop with QEMU; reapOrphans (everything under the instance's vfsd/) removes what is left.
import type { InstanceConfig } from "../../src/core/instance-config.ts";
import { virtiofsdLog, virtiofsdSocket } from "../../src/core/paths.ts";
import type { StaticShare } from "./argv-build.ts";
import { startVirtiofsd } from "./virtiofsd.ts";
import { virtiofsTuning } from "./virtiofs-tuning.ts";

/** Socket/log name of static share n: never a mount id (hm + 8 hex), so reconcile leaves it alone. */
export const staticShareId = (n: number) => `static${n}`;

/** What the QEMU argv needs: the sockets are named by position, so this is known before any start. */
export function staticShares(cfg: InstanceConfig): StaticShare[] {
  return cfg.staticMounts.map((m, n) => ({ socket: virtiofsdSocket(cfg.name, staticShareId(n)), tag: m.tag, queueSize: virtiofsTuning().queueSize }));
}

/** Starts every configured share's virtiofsd; on a failure stops the ones already started. */
export async function startStaticShares(cfg: InstanceConfig): Promise<void> {
  const started: { pid: number }[] = [];
  try {
    for (const [n, m] of cfg.staticMounts.entries()) {
      const socket = virtiofsdSocket(cfg.name, staticShareId(n));
      const v = await startVirtiofsd({ socket, log: virtiofsdLog(cfg.name, staticShareId(n)), source: m.hostPath, writable: m.writable });
      // `vm start` exits long before the VM does: do not keep its event loop waiting on the child.
      v.child?.unref();
      started.push(v);
    }
  } catch (e) {
    for (const v of started) {
      try {
        process.kill(v.pid, "SIGTERM");
      } catch {}
    }
    throw e;
  }
}
