// The agent's control session to one QEMU VM: it owns the QMP connection (QEMU allows one
// client at a time, and DEVICE_DELETED goes only to it) and implements FSHotPlugger, reporting a
// virtiofsd that dies under an attached device through onDeviceLost (dead-backends.ts: noticed
// within a second, and its device's requests answered with EIO so that the guest does not hang).
import type { TransportAvailability } from "../../src/core/model.ts";
import { HotmountError } from "../../src/core/errors.ts";
import type { InstanceConfig } from "../../src/core/instance-config.ts";
import { instancePaths } from "../../src/core/paths.ts";
import { isMountId } from "../../src/core/validate.ts";
import { QmpClient, queryChardev, queryMemdev, queryPci, qomList } from "../../src/qmp/index.ts";
import type { DeviceInventory, DeviceLostListener, DriverSession, FSHotPlugger, GuestRunner, Logger, PlugRequest, PluggedDevice, Progress } from "../driver.ts";
import { DeadBackends } from "./dead-backends.ts";
import { findVirtiofsd } from "./host-tools.ts";
import { NinePSlots, plug9p, unplug9p } from "./hotplug-9p.ts";
import { plugVirtiofs, unplugVirtiofs, scrubVirtiofs, virtiofsdPids, VirtiofsdChildren } from "./hotplug-virtiofs.ts";
import { SlotAllocator } from "./slots.ts";
import { livePid, powerOffPid } from "./lifecycle.ts";

export interface HotplugContext {
  cfg: InstanceConfig;
  qmp: QmpClient;
  slots: SlotAllocator;
  ninep: NinePSlots;
  virtiofsds: VirtiofsdChildren;
  dead: DeadBackends;
  log: Logger;
}

export class QemuSession implements DriverSession, FSHotPlugger {
  readonly driver = "qemu";
  private sharedMemory: boolean | null = null;

  private constructor(private readonly ctx: HotplugContext) {}

  static async open(cfg: InstanceConfig, log: Logger): Promise<QemuSession> {
    const qmp = await QmpClient.connect(instancePaths(cfg.name).qmpSock, { timeoutMs: 5000 });
    const slots = new SlotAllocator(cfg.slots);
    slots.loadFromQueryPci(await queryPci(qmp));
    const ninep = new NinePSlots(cfg.name, cfg.ninePSlots);
    const virtiofsds = new VirtiofsdChildren();
    const dead = new DeadBackends(cfg, qmp, log, () => virtiofsdPids(cfg.name));
    virtiofsds.onLost((id, why) => dead.report(id, why));
    dead.start();
    const s = new QemuSession({ cfg, qmp, slots, ninep, virtiofsds, dead, log });
    qmp.onDisconnect((e) => e && log.warn("QMP connection lost", { error: e.message }));
    return s;
  }

  private async hasSharedMemory(): Promise<boolean> {
    if (this.sharedMemory === null) {
      const mems = await queryMemdev(this.ctx.qmp);
      this.sharedMemory = mems.length > 0 && mems.every((m) => m.share === true);
    }
    return this.sharedMemory;
  }

  async transports(): Promise<TransportAvailability[]> {
    const out: TransportAvailability[] = [];
    const vfsd = findVirtiofsd();
    if (!(await this.hasSharedMemory())) {
      out.push({ type: "virtiofs", available: false, reason: "guest RAM is not shared memory (needs memory-backend-memfd,share=on)" });
    } else if (!vfsd) {
      out.push({ type: "virtiofs", available: false, reason: "virtiofsd is not installed on the host" });
    } else {
      out.push({ type: "virtiofs", available: true });
    }
    out.push(
      this.ctx.cfg.ninePSlots > 0 ? { type: "9p", available: true } : { type: "9p", available: false, reason: "the VM was started without reserved 9p slots" },
    );
    out.push({ type: "reverse-sshfs", available: true });
    return out;
  }

  onDeviceLost(listener: DeviceLostListener): void {
    this.ctx.dead.onLost(listener);
  }

  async capacity(): Promise<{ total: number; used: number }> {
    return { total: this.ctx.slots.total, used: this.ctx.slots.used };
  }

  async plug(req: PlugRequest, progress: Progress): Promise<PluggedDevice> {
    if (req.type === "virtiofs") {
      if (!(await this.hasSharedMemory())) {
        throw new HotmountError("UNSUPPORTED", `instance "${this.ctx.cfg.name}" has no shared guest memory, which virtiofs needs`, {
          hint: "Start the VM with hotmount (it adds memory-backend-memfd,share=on), or use --type 9p or --type reverse-sshfs.",
        });
      }
      return plugVirtiofs(this.ctx, req, progress);
    }
    return plug9p(this.ctx, req, progress);
  }

  async unplug(dev: PluggedDevice, progress: Progress, guest?: GuestRunner): Promise<void> {
    if (dev.type === "virtiofs") return unplugVirtiofs(this.ctx, dev, progress, guest);
    return unplug9p(this.ctx, dev, progress, guest);
  }

  async scrub(id: string): Promise<void> {
    await scrubVirtiofs(this.ctx, id);
    this.ctx.ninep.releaseById(id);
  }

  async inventory(): Promise<DeviceInventory> {
    const peripherals = await qomList(this.ctx.qmp, "/machine/peripheral");
    const devices = peripherals
      .filter((p) => p.type.startsWith("child<") && (isMountId(p.name) || this.ctx.slots.slotOf(p.name) !== null))
      .map((p) => ({ id: p.name, slot: this.ctx.slots.slotOf(p.name) }));
    const chardevs = (await queryChardev(this.ctx.qmp)).filter((c) => c.label.endsWith("-chr"));
    const backends = [
      ...chardevs.map((c) => ({ id: c.label.replace(/-chr$/, ""), kind: "chardev" })),
      ...virtiofsdPids(this.ctx.cfg.name).map((v) => ({ id: v.id, kind: "virtiofsd", pid: v.pid })),
      ...this.ctx.ninep.owners(),
    ];
    return { devices, backends };
  }

  async powerOff(progress: Progress): Promise<void> {
    const pid = livePid(this.ctx.cfg.name);
    if (pid) await powerOffPid(this.ctx.cfg, pid, progress, this.ctx.qmp);
  }

  async close(): Promise<void> {
    await this.ctx.dead.close().catch(() => {});
    await this.ctx.qmp.close().catch(() => {});
  }
}
