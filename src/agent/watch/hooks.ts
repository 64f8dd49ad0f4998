// Connects the watch service to the mount registry: a ready mount with `watch` on is watched, a
// mount about to be removed is not any more, and `mount list` carries the watch's warning.
// `ready` never holds a `mount add` on a slow or missing SSH login: see WatchService.start.
import type { Logger } from "../../core/model.ts";
import type { GuestSsh } from "../../guest-exec/ssh-client.ts";
import type { Mount } from "../api.ts";
import type { MountRecord } from "../journal.ts";
import { WatchService } from "./index.ts";

/** What the mount service calls around a mount's life: watching starts once it is ready and stops before it goes. */
export interface WatchHooks {
  ready(rec: MountRecord): Promise<void>;
  beforeRemove(rec: MountRecord): Promise<void>;
  /** Adds live state to a listed mount (e.g. a watch warning). */
  decorate(m: Mount): Mount;
}

export function watchHooks(ssh: () => Promise<GuestSsh>, log: Logger): { hooks: WatchHooks; service: WatchService; stopAll(): Promise<void> } {
  const service = new WatchService(ssh, log);
  const hooks: WatchHooks = {
    async ready(rec) {
      if (rec.watch === false) return;
      await service.start({ id: rec.id, hostPath: rec.hostPath, mountPoint: rec.mountPoint, writable: rec.writable, kinds: rec.watchKinds === true });
    },
    async beforeRemove(rec) {
      await service.stop(rec.id);
    },
    decorate(m) {
      const w = service.warning(m.id);
      return w ? { ...m, watchWarning: w } : m;
    },
  };
  return { hooks, service, stopAll: () => service.stopAll() };
}
