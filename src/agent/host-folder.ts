// Notices a mount's host folder deleted or replaced (`rm -rf` and mkdir again, a tool that swaps
// the folder for a new one). Every transport keeps serving the folder it opened, which is gone:
// the guest sees a deleted, empty folder while `mount list` would say ready. Replaced → the mount
// is rebuilt on the new folder at the same guest path (restore); gone → failed, saying so, and
// rebuilt by itself once a folder is there again. A host stat per mount per check: no guest command.
import { statSync } from "node:fs";
import type { MountRecord } from "./journal.ts";
import type { MountService } from "./mount-service.ts";
import type { GuestCommands } from "../guest-exec/index.ts";
import { rebuildSteps } from "./remount.ts";

/** "dev:ino" of the folder at `path` now; null when there is no folder there. */
export function hostFolderId(path: string): string | null {
  try {
    const st = statSync(path);
    return st.isDirectory() ? `${st.dev}:${st.ino}` : null;
  } catch {
    return null;
  }
}

/** The check, one at a time (a rebuild may outlast the interval between checks). */
export function hostFolderChecker(service: MountService, guest: () => Promise<GuestCommands>): () => Promise<void> {
  let busy = false;
  return async () => {
    if (busy) return;
    busy = true;
    try {
      for (const r of service.allRecords()) await checkOne(service, guest, r);
    } finally {
      busy = false;
    }
  };
}

async function checkOne(service: MountService, guest: () => Promise<GuestCommands>, r: MountRecord): Promise<void> {
  if (!r.hostId || (r.state !== "ready" && r.state !== "failed")) return;
  const now = hostFolderId(r.hostPath);
  if (now === r.hostId) return;
  if (now === null) {
    if (r.state === "ready")
      service.markFailed(
        r.id,
        `its host folder ${r.hostPath} is gone`,
        "Make the folder again and hotmount mounts it again by itself; or remove the mount (`hotmount mount remove --force`).",
      );
    return;
  }
  await service.restore(r.id, `its host folder ${r.hostPath} was replaced`, async (rec, t) => {
    await rebuildSteps(await guest(), rec, t);
    rec.hostId = now;
  });
}
