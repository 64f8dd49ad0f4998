// The agent's session on a Lima instance. Started through hotmount's wrapper, its QEMU has root
// ports, reserved 9p fsdevs and a QMP monitor of ours: the QEMU driver's session does the
// hot-plugging. Started without it, only reverse-sshfs works, and a device mount explains exactly
// what is missing. Either way the VM belongs to Lima: hotmount never powers it off.
import type { TransportAvailability } from "../../src/core/model.ts";
import { HotmountError } from "../../src/core/errors.ts";
import type { InstanceConfig } from "../../src/core/instance-config.ts";
import type { DeviceLostListener, DriverSession, FSHotPlugger, Logger, PluggedDevice, PlugRequest, Progress } from "../driver.ts";
import { QemuSession } from "../qemu/qemu-session.ts";
import { limaInstanceByHmName, qemuArchOf, type LimaInstance } from "./lima-instance.ts";
import { liveWrap, type WrapMarker } from "./wrap-marker.ts";

/** Why this Lima instance cannot take virtiofs/9p devices, and how to get them. */
export function notHotPluggable(inst: LimaInstance, marker: WrapMarker | null): HotmountError {
  const n = inst.limaName;
  const envVar = `QEMU_SYSTEM_${qemuArchOf(inst.arch).toUpperCase()}`;
  const howTo = `Restart it through hotmount's QEMU wrapper: \`limactl stop ${n}\`, \`hotmount qemu-wrap --install\` (prints the line to use), then \`${envVar}=<that path> limactl start ${n}\`.`;
  const now = "Or mount now with --type reverse-sshfs (needs sshfs in the guest).";
  if (inst.vmType !== "qemu") {
    return new HotmountError(
      "UNSUPPORTED",
      `Lima instance "${n}" runs on vmType ${inst.vmType}, not QEMU: hotmount can hot-plug virtiofs and 9p devices only into Lima's QEMU instances`,
      {
        hint: `Use --type reverse-sshfs. For virtiofs, create the instance with \`limactl create --vm-type=qemu\` and start it through the wrapper (docs/lima.md).`,
        details: { missing: ["qemu"], vmType: inst.vmType },
      },
    );
  }
  if (marker?.conflict) {
    return new HotmountError(
      "UNSUPPORTED",
      `hotmount's QEMU wrapper ran for Lima instance "${n}" but could not add hot-plug capacity: ${marker.conflict.message}`,
      {
        hint: `${marker.conflict.hint} ${now}`.trim(),
        details: { missing: ["root-ports", "qmp", "9p-slots"], conflict: marker.conflict.message },
      },
    );
  }
  const missing = ["spare PCIe root ports", "reserved 9p backends", "a QMP monitor for hotmount"];
  if (inst.mountType !== "virtiofs") missing.push("shared guest RAM");
  const list = `${missing.slice(0, -1).join(", ")} and ${missing.at(-1)}`;
  return new HotmountError(
    "UNSUPPORTED",
    `Lima instance "${n}" was not started through hotmount's QEMU wrapper, so its QEMU lacks what hot-plugging virtiofs and 9p needs: ${list}`,
    {
      hint: `${howTo} ${now}`,
      details: { missing: missing, envVar },
    },
  );
}

/** What `vm list` and the agent report for a Lima instance. */
export function limaTransports(inst: LimaInstance, marker: WrapMarker | null): TransportAvailability[] {
  const sshfs: TransportAvailability = { type: "reverse-sshfs", available: true };
  if (!marker || marker.conflict || inst.vmType !== "qemu") {
    const reason = notHotPluggable(inst, marker).message;
    return [{ type: "virtiofs", available: false, reason }, { type: "9p", available: false, reason }, sshfs];
  }
  return [
    marker.memory === "not-shared"
      ? { type: "virtiofs", available: false, reason: "guest RAM is not shared memory (this host has no memfd)" }
      : { type: "virtiofs", available: true },
    marker.ninePSlots > 0 ? { type: "9p", available: true } : { type: "9p", available: false, reason: "the wrapper reserved no 9p slots (--9p-slots 0)" },
    sshfs,
  ];
}

function lookup(cfg: InstanceConfig): LimaInstance {
  const inst = limaInstanceByHmName(cfg.name);
  if (!inst)
    throw new HotmountError("INSTANCE_NOT_FOUND", `no Lima instance behind hotmount instance "${cfg.name}"`, {
      hint: "See `hotmount vm list` and `limactl list`.",
    });
  return inst;
}

/** A Lima QEMU started through the wrapper: the QEMU session hot-plugs; power stays with Lima. */
class WrappedLimaSession implements DriverSession, FSHotPlugger {
  readonly driver = "lima";
  constructor(
    private readonly q: QemuSession,
    private readonly log: Logger,
  ) {}
  transports = () => this.q.transports();
  capacity = () => this.q.capacity();
  plug = (req: PlugRequest, p: Progress) => this.q.plug(req, p);
  unplug = (dev: PluggedDevice, p: Progress) => this.q.unplug(dev, p);
  scrub = (id: string) => this.q.scrub(id);
  inventory = () => this.q.inventory();
  onDeviceLost = (l: DeviceLostListener) => this.q.onDeviceLost(l);
  async powerOff(): Promise<void> {
    this.log.info("the VM belongs to Lima: leaving it running (stop it with limactl stop)");
  }
  close = () => this.q.close();
}

/** A Lima VM hotmount cannot plug devices into: no FSHotPlugger, reverse-sshfs only, and a precise refusal otherwise. */
class PlainLimaSession implements DriverSession {
  readonly driver = "lima";
  constructor(
    private readonly inst: LimaInstance,
    private readonly marker: WrapMarker | null,
    private readonly log: Logger,
  ) {}
  async transports(): Promise<TransportAvailability[]> {
    return limaTransports(this.inst, this.marker);
  }
  hotPlugRefusal(): HotmountError {
    return notHotPluggable(this.inst, this.marker);
  }
  async powerOff(): Promise<void> {
    this.log.info("the VM belongs to Lima: leaving it running (stop it with limactl stop)");
  }
  async close(): Promise<void> {}
}

export async function openLimaSession(cfg: InstanceConfig, log: Logger): Promise<DriverSession> {
  const inst = lookup(cfg);
  if (inst.state !== "running") {
    throw new HotmountError("INSTANCE_NOT_RUNNING", `Lima instance "${inst.limaName}" is not running`, { hint: `Start it: limactl start ${inst.limaName}` });
  }
  const marker = liveWrap(inst);
  if (marker && !marker.conflict && inst.vmType === "qemu") return new WrappedLimaSession(await QemuSession.open(cfg, log), log);
  log.info("Lima instance not started through hotmount's wrapper: reverse-sshfs only", { lima: inst.limaName, marker: marker ? "conflict" : "none" });
  return new PlainLimaSession(inst, marker, log);
}
