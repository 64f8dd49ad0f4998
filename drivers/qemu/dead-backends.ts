// Notices a virtiofsd that dies under an attached device, whoever started it, and keeps the guest
// from hanging on it. Two signals: the exit of a virtiofsd this agent started (at once), and, for
// one an earlier agent started, QEMU's own view: the device's chardev reads "disconnected:" (polled
// every 500 ms). A death is reported once to the onDeviceLost listeners and the device's pending
// and future requests are answered with EIO (vring-reaper.ts) until the device is deleted. While a
// virtiofsd lives, the eventfds it shares with QEMU are noted, so that the reaper can interrupt
// the right queue after the death.
import { HotmountError } from "../../src/core/errors.ts";
import { isMountId } from "../../src/core/validate.ts";
import type { InstanceConfig } from "../../src/core/instance-config.ts";
import { instancePaths } from "../../src/core/paths.ts";
import { queryChardev, type QmpClient } from "../../src/qmp/index.ts";
import { findProcesses } from "../../src/util/process.ts";
import type { DeviceLostListener, Logger } from "../driver.ts";
import { eventfdIds, signalQemuEventfds, unsharedEventfdIds } from "./qemu-eventfds.ts";
import { VringReaper } from "./vring-reaper.ts";
import { livePid } from "./lifecycle.ts";

const POLL_MS = 500;
/** Polls between notes of the live virtiofsds' eventfds (they change when the guest resets a device). */
const NOTE_EVERY = 4;
const DISCONNECTED = "disconnected:";
const chardevId = (id: string) => `${id}-chr`;

export class DeadBackends {
  /** Reported deaths whose device is still attached: id → why. */
  private readonly lost = new Map<string, string>();
  /** Devices being unplugged: their backend goes away on purpose. */
  private readonly quiet = new Set<string>();
  /** eventfd ids each live virtiofsd shares with QEMU, as last noted. */
  private readonly notes = new Map<string, number[]>();
  private readonly listeners: DeviceLostListener[] = [];
  private timer: ReturnType<typeof setInterval> | null = null;
  private busy = false;
  private polls = 0;
  readonly reaper: VringReaper;

  constructor(
    private readonly cfg: InstanceConfig,
    private readonly qmp: QmpClient,
    private readonly log: Logger,
    /** The live virtiofsd pids of this instance, by mount id. */
    private readonly virtiofsds: () => { id: string; pid: number }[],
  ) {
    this.reaper = new VringReaper({
      qmp,
      log,
      qemuPid: () => this.qemuPid(),
      backendDead: (id) => this.backendDead(id),
      notifierIds: (id) => this.notes.get(id) ?? null,
      signal: (pid, ids) => signalQemuEventfds(pid, ids ?? unsharedEventfdIds(pid)),
    });
  }

  /** QEMU's pid: the instance's pid file, else the process serving its QMP socket (a wrapped VM). */
  qemuPid(): number | null {
    const sock = instancePaths(this.cfg.name).qmpSock;
    return livePid(this.cfg.name) ?? findProcesses((argv) => argv.some((a) => a.includes(sock)) && /qemu-system/.test(argv[0] ?? ""))[0] ?? null;
  }

  onLost(l: DeviceLostListener): void {
    this.listeners.push(l);
    // A death noticed before anyone listened (the first poll after an agent start) is not lost.
    for (const [id, why] of this.lost) queueMicrotask(() => l(id, why));
  }

  start(): void {
    this.timer ??= setInterval(() => void this.poll(), POLL_MS);
    this.timer.unref?.();
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.reaper.stopAll();
  }

  /** A backend is gone: report it once, and answer its device's requests from now on. */
  report(id: string, why: string): void {
    if (this.quiet.has(id) || this.lost.has(id) || !this.qemuPid()) return; // the VM itself going away is not a lost device
    this.lost.set(id, why);
    this.log.warn("a device's backend died", { id, why });
    this.reaper.start(id);
    for (const l of this.listeners) l(id, why);
  }

  /** The device's chardev has lost its backend (QEMU says "disconnected:"). */
  async backendDead(id: string): Promise<boolean> {
    const c = (await queryChardev(this.qmp, { timeoutMs: 3000 })).find((x) => x.label === chardevId(id));
    return !!c?.filename.startsWith(DISCONNECTED);
  }

  /**
   * Before device_del: from here on the backend's exit is expected; a backend that is already dead
   * gets its requests answered, or the guest's device removal would wait on them forever.
   */
  async unplugging(id: string): Promise<void> {
    if (this.reaper.isReaping(id) || !(await this.backendDead(id).catch(() => false))) {
      this.quiet.add(id);
      return;
    }
    const why = this.reaper.whyNot();
    if (why) {
      throw new HotmountError(
        "MOUNT_BROKEN",
        `the virtiofsd of ${id} died and its pending requests cannot be answered here (${why}), so the guest could not let go of the device`,
        {
          hint: `The device stays attached so that the guest does not hang. Reboot the VM (\`hotmount vm stop ${this.cfg.name}\`, then \`vm start\`); run the agent as root to have such devices released without a reboot.`,
          details: { id },
        },
      );
    }
    this.quiet.add(id);
    this.reaper.start(id);
  }

  /** The unplug failed: the device stays, and a later death of its backend is reported again. */
  unplugFailed(id: string): void {
    this.quiet.delete(id);
  }

  /** The device is gone (or about to be plugged afresh under the same id): drop what was known of it. */
  async forget(id: string): Promise<void> {
    await this.reaper.stop(id);
    this.quiet.delete(id);
    this.lost.delete(id);
    this.notes.delete(id);
  }

  private async poll(): Promise<void> {
    if (this.busy || !this.qmp.isConnected) return;
    this.busy = true;
    try {
      const chardevs = (await queryChardev(this.qmp, { timeoutMs: 2000 })).filter((c) => c.label.endsWith("-chr") && isMountId(c.label.slice(0, -4)));
      for (const c of chardevs) {
        const id = c.label.slice(0, -4);
        if (c.filename.startsWith(DISCONNECTED)) this.report(id, "its virtiofsd is gone (QEMU lost the vhost-user connection)");
      }
      if (this.polls++ % NOTE_EVERY === 0 && chardevs.some((c) => !c.filename.startsWith(DISCONNECTED))) this.note();
    } catch {
      // QEMU busy or going away: the next poll asks again
    } finally {
      this.busy = false;
    }
  }

  /** Notes the eventfd ids of every live virtiofsd (the dead one's are needed after its death). */
  private note(): void {
    const byId = new Map<string, number[]>();
    for (const v of this.virtiofsds()) byId.set(v.id, [...(byId.get(v.id) ?? []), v.pid]);
    for (const [id, pids] of byId) {
      if (this.lost.has(id)) continue;
      const ids = eventfdIds(pids);
      if (ids.length) this.notes.set(id, ids);
    }
  }
}
