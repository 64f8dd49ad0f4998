// The agent's look at the guest every few seconds: one guest command reads the kernel's boot id
// and the mount table. A boot id other than the one a mount was made in means the guest rebooted
// (same VM process, new boot; or while no agent ran): the event stream says so, and every mount
// is mounted again where it was, by itself: on its still-plugged device (virtiofs, 9p) or over a
// new SSH session (reverse-sshfs). A ready mount gone from the table in the same boot was
// unmounted behind hotmount's back: it is marked failed, not fought over.
import type { Logger } from "../core/model.ts";
import type { GuestCommands, GuestExec } from "../guest-exec/index.ts";
import { parseMounts } from "./guest-mount.ts";
import type { MountRecord } from "./journal.ts";
import type { MountService } from "./mount-service.ts";
import { remountSteps } from "./remount.ts";

const BOOT_ID = "/proc/sys/kernel/random/boot_id";
/** Restores tried per mount and boot before it is left failed (the guest may still be starting). */
const RESTORE_TRIES = 3;

export interface GuestSnapshot {
  bootId: string;
  mountPoints: Set<string>;
}

/** The boot id and the mounted paths, in one guest command. */
export async function readGuest(g: GuestCommands): Promise<GuestSnapshot> {
  const text = await g.run(["cat", BOOT_ID, "/proc/mounts"], { root: false, timeoutMs: 10_000 });
  const nl = text.indexOf("\n");
  return { bootId: text.slice(0, nl).trim(), mountPoints: new Set(parseMounts(text.slice(nl + 1)).map((m) => m.mountPoint)) };
}

export class GuestHealth {
  private boot: string | null = null;
  private busy = false;
  /** Restore attempts per mount, for the boot they were made in. */
  private readonly tries = new Map<string, { boot: string; n: number }>();
  /** The mounts the journal said were ready when the agent started (before reconcile). */
  private readonly readyAtStart: Set<string>;

  constructor(
    private readonly service: MountService,
    private readonly guest: () => Promise<GuestExec>,
    private readonly log: Logger,
    private readonly onReboot: (message: string) => void,
  ) {
    this.readyAtStart = new Set(
      service
        .allRecords()
        .filter((r) => r.state === "ready")
        .map((r) => r.id),
    );
  }

  /** The boot the guest was in at the last check; null before the first. */
  get currentBoot(): string | null {
    return this.boot;
  }

  /** One look; a guest that does not answer (rebooting, busy) is looked at again next time. */
  async check(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      // The states before the guest is read: a mount that becomes ready while the guest's table is
      // read is not in that table, and must not be judged missing from it.
      const seen = new Map(this.service.allRecords().map((r) => [r.id, r.state]));
      const snap = await readGuest(await this.guest());
      const records = this.service.allRecords().filter((r) => seen.get(r.id) === r.state);
      const before = this.boot;
      this.boot = snap.bootId;
      if (before !== null && before !== snap.bootId) this.onReboot("the guest's boot id changed: it rebooted");
      // Journaled ready (when this agent started) in another boot: the guest rebooted under a dead
      // agent. After `vm stop` the journal says failed, and the new boot is no reboot to report.
      else if (before === null && records.some((r) => this.readyAtStart.has(r.id) && r.bootId && r.bootId !== snap.bootId))
        this.onReboot("the guest rebooted while no agent was running");
      for (const r of records) await this.look(r, snap, before !== null && before !== snap.bootId);
    } catch {
      // Not answering (rebooting, busy): the next check looks again.
    } finally {
      this.busy = false;
    }
  }

  private async look(r: MountRecord, snap: GuestSnapshot, rebooted: boolean): Promise<void> {
    if (snap.mountPoints.has(r.mountPoint) || (r.state !== "ready" && r.state !== "failed")) return;
    const otherBoot = rebooted || (r.bootId !== undefined && r.bootId !== snap.bootId);
    if (!otherBoot) {
      if (r.state === "ready")
        this.service.markFailed(
          r.id,
          "no longer mounted in the guest (unmounted there, not by hotmount)",
          "Remove it with `hotmount mount remove --force` and add it again.",
        );
      return;
    }
    const t = this.tries.get(r.id);
    const n = t?.boot === snap.bootId ? t.n : 0;
    if (n >= RESTORE_TRIES) return;
    this.tries.set(r.id, { boot: snap.bootId, n: n + 1 });
    const ok = await this.service.restore(r.id, "the guest rebooted", async (rec, transport) => {
      await remountSteps(await this.guest(), rec, transport);
      rec.bootId = snap.bootId;
    });
    if (ok) this.tries.delete(r.id);
  }
}
