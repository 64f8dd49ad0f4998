// virtiofs hot-plug on QEMU: virtiofsd → chardev-add → device_add on a spare root port, and the
// reverse. Each step that succeeded is undone when a later one fails.
import { basename } from "node:path";
import { isCode } from "../../src/core/errors.ts";
import { failpoint } from "../../src/core/failpoint.ts";
import { instancePaths, virtiofsdLog, virtiofsdSocket } from "../../src/core/paths.ts";
import { chardevAdd, chardevRemove, deviceAdd, deviceDelAndWait, QmpExecuteError } from "../../src/qmp/index.ts";
import { cmdlineOf, findProcesses, sleep } from "../../src/util/process.ts";
import { deviceTag, type DeviceLostListener, type GuestRunner, type PlugRequest, type PluggedDevice, type Progress } from "../driver.ts";
import type { HotplugContext } from "./qemu-session.ts";
import { deviceDelReleased } from "./slot-release.ts";
import { isVirtiofsdCommand, startVirtiofsd, stopVirtiofsd, type RunningVirtiofsd } from "./virtiofsd.ts";
import { virtiofsTuning } from "./virtiofs-tuning.ts";

const DEVICE_DELETED_TIMEOUT_MS = 15_000;

/**
 * The virtiofsd children one session started, and who to tell when one dies while its device is
 * still attached (`expected` marks an exit we asked for). Held per session: the session that
 * plugged a device is the one that reports its loss.
 */
export class VirtiofsdChildren {
  private readonly running = new Map<string, { v: RunningVirtiofsd; expected: boolean }>();
  private readonly lostListeners: DeviceLostListener[] = [];

  onLost(l: DeviceLostListener): void {
    this.lostListeners.push(l);
  }

  /** Tracks a child; returns what undoes it (stop, expected). */
  track(id: string, v: RunningVirtiofsd): () => Promise<void> {
    const tracked = { v, expected: false };
    this.running.set(id, tracked);
    v.child?.on("exit", (code, sig) => {
      if (this.running.get(id) === tracked) this.running.delete(id);
      if (!tracked.expected) for (const l of this.lostListeners) l(id, `virtiofsd exited (${sig ?? code})`);
    });
    return async () => {
      tracked.expected = true;
      await stopVirtiofsd(v, 0);
    };
  }

  expectExit(id: string): void {
    const t = this.running.get(id);
    if (t) t.expected = true;
  }

  forget(id: string): void {
    this.running.delete(id);
  }

  pidOf(id: string): number | undefined {
    return this.running.get(id)?.v.pid;
  }
}

export const chardevId = (id: string) => `${id}-chr`;

export async function plugVirtiofs(ctx: HotplugContext, req: PlugRequest, progress: Progress): Promise<PluggedDevice> {
  const tag = deviceTag(req);
  const undo: Array<() => Promise<void>> = [];
  const rollback = async () => {
    for (const u of undo.reverse()) await u().catch((e) => ctx.log.warn("rollback step failed", { id: req.id, error: String(e) }));
  };
  // A fresh device under the id of one that was removed (a dead backend brought back): nothing of the old one counts.
  await ctx.dead.forget(req.id);
  try {
    const slot = ctx.slots.take(req.id);
    undo.push(async () => ctx.slots.release(slot));

    progress("starting virtiofsd");
    const socket = virtiofsdSocket(ctx.cfg.name, req.id);
    const vfsd = await startVirtiofsd({ socket, log: virtiofsdLog(ctx.cfg.name, req.id), source: req.hostPath, writable: req.writable, owner: req.owner });
    if (vfsd.sandbox?.mode === "none") ctx.log.warn("virtiofsd runs unsandboxed", { id: req.id, why: vfsd.sandbox.detail });
    undo.push(ctx.virtiofsds.track(req.id, vfsd));
    failpoint("plug:virtiofsd");

    progress("attaching the device");
    await addChardevWhenListening(ctx, req.id, socket);
    undo.push(() => chardevRemove(ctx.qmp, chardevId(req.id)));
    failpoint("plug:chardev");
    // addr 0 always: without it a second device on an occupied port lands at slot 1, unseen.
    await deviceAdd(ctx.qmp, {
      driver: "vhost-user-fs-pci",
      id: req.id,
      chardev: chardevId(req.id),
      tag,
      bus: slot,
      addr: "0",
      "queue-size": virtiofsTuning().queueSize,
    });
    return { id: req.id, type: "virtiofs", tag, slot };
  } catch (e) {
    await rollback();
    throw e;
  }
}

/**
 * virtiofsd creates its socket file before it listens, and probing it would use up the C
 * virtiofsd's only connection: so retry chardev-add briefly while QEMU's connect is refused.
 */
async function addChardevWhenListening(ctx: HotplugContext, id: string, socket: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await chardevAdd(ctx.qmp, chardevId(id), { type: "socket", data: { addr: { type: "unix", data: { path: socket } }, server: false } });
      return;
    } catch (e) {
      if (!(e instanceof QmpExecuteError && /Connection refused/.test(e.message)) || attempt >= 40) throw e;
      await sleep(25);
    }
  }
}

/**
 * Safe order (the guest has already unmounted): device_del → DEVICE_DELETED → chardev-remove →
 * virtiofsd gone → slot free. A device whose virtiofsd died has its requests answered meanwhile
 * (the guest's removal drains the queues first).
 */
export async function unplugVirtiofs(ctx: HotplugContext, dev: PluggedDevice, progress: Progress, guest?: GuestRunner): Promise<void> {
  progress("detaching the device");
  await ctx.dead.unplugging(dev.id);
  try {
    await deviceDelReleased(ctx, dev, DEVICE_DELETED_TIMEOUT_MS, guest);
  } catch (e) {
    if (!(e instanceof QmpExecuteError && e.errorClass === "DeviceNotFound")) {
      ctx.dead.unplugFailed(dev.id);
      throw e;
    }
  }
  ctx.virtiofsds.expectExit(dev.id);
  failpoint("unplug:deleted");
  await chardevRemove(ctx.qmp, chardevId(dev.id)).catch((e) => {
    if (!isCode(e, "QMP_EXECUTE")) throw e;
  });
  progress("stopping virtiofsd");
  for (const pid of pidsFor(ctx, dev.id)) await stopVirtiofsd({ pid, socket: virtiofsdSocket(ctx.cfg.name, dev.id) });
  ctx.virtiofsds.forget(dev.id);
  await ctx.dead.forget(dev.id);
  ctx.slots.release(dev.slot);
}

/** Removes whatever is left of a mount id: device, chardev, virtiofsd, slot. Idempotent. */
export async function scrubVirtiofs(ctx: HotplugContext, id: string): Promise<void> {
  const slot = ctx.slots.slotOf(id);
  // A device whose dead virtiofsd's requests cannot be answered is left in place: deleting it would hang the guest.
  const safe = await ctx.dead.unplugging(id).then(
    () => true,
    (e) => (ctx.log.warn("leaving a device with a dead virtiofsd attached", { id, error: String(e) }), false),
  );
  if (!safe) return;
  await deviceDelAndWait(ctx.qmp, id, DEVICE_DELETED_TIMEOUT_MS).catch(() => {});
  ctx.virtiofsds.expectExit(id);
  await chardevRemove(ctx.qmp, chardevId(id)).catch(() => {});
  for (const pid of pidsFor(ctx, id)) await stopVirtiofsd({ pid, socket: virtiofsdSocket(ctx.cfg.name, id) }, 500);
  ctx.virtiofsds.forget(id);
  await ctx.dead.forget(id);
  if (slot) ctx.slots.release(slot);
}

function pidsFor(ctx: HotplugContext, id: string): number[] {
  const sock = virtiofsdSocket(ctx.cfg.name, id);
  const fromMap = ctx.virtiofsds.pidOf(id);
  const found = findProcesses((argv) => argv.some((a) => a === sock || a === `--socket-path=${sock}`));
  return [...new Set([...(fromMap ? [fromMap] : []), ...found])];
}

/** Every virtiofsd serving this instance, live, with the mount id its socket names. */
export function virtiofsdPids(name: string): { id: string; pid: number }[] {
  const dir = instancePaths(name).virtiofsdDir + "/";
  const out: { id: string; pid: number }[] = [];
  for (const pid of findProcesses((argv) => isVirtiofsdCommand(argv) && argv.some((a) => a.includes(dir)))) {
    const arg = fileArg(pid, dir);
    if (arg) out.push({ id: basename(arg, ".sock"), pid });
  }
  return out;
}

function fileArg(pid: number, dir: string): string | null {
  const a = cmdlineOf(pid).find((x) => x.includes(dir) && x.endsWith(".sock"));
  return a ? a.replace(/^--socket-path=/, "") : null;
}
