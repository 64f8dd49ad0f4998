// The driver contract. A driver is one folder under drivers/ that implements `Driver`, and
// drivers/index.ts is the registry that names them. Extra powers are optional capabilities that
// callers detect (`asVmLifecycle`, `asVmDiscovery`, `asFSHotPlugger`), never "unimplemented"
// stubs: a driver or session without a capability simply does not have its methods, and may say
// why (`lifecycleRefusal`, `hotPlugRefusal`) so that the caller's error names what to do instead.
import type { DeviceTransport, DiscoveredVm, InstanceState, Logger, PluggedDevice, Progress, Transport, TransportAvailability } from "../src/core/model.ts";
import type { InstanceConfig } from "../src/core/instance-config.ts";
import { HotmountError } from "../src/core/errors.ts";
import { checkTag } from "../src/core/validate.ts";

export type { DeviceTransport, Logger, PluggedDevice, Progress };

export interface RuntimeStatus {
  state: InstanceState;
  pid: number | null;
  accel: string | null;
}

export interface Driver {
  readonly name: string;
  /** Cheap: is the VM process alive? Never blocks on the guest. */
  status(cfg: InstanceConfig): Promise<RuntimeStatus>;
  /** The control session the instance's agent holds for the VM's lifetime. */
  openSession(cfg: InstanceConfig, log: Logger): Promise<DriverSession>;
  /**
   * Only for a driver without VmLifecycle: the error `vm start`/`vm stop` give, saying who starts
   * and stops this VM instead of hotmount.
   */
  lifecycleRefusal?(cfg: InstanceConfig, op: "start" | "stop"): HotmountError;
}

/** Optional: hotmount boots and stops the driver's VMs itself (QEMU, VZ). */
export interface VmLifecycle {
  /**
   * The VM lives inside the process that calls `start` (VZ: only the owning process may change a
   * device's share). Then the agent itself calls `start`, and `vm start` only launches the agent.
   */
  readonly vmLivesInCaller?: boolean;
  /** Boots the VM and returns once its SSH server answers. Leaves nothing behind on failure. */
  start(cfg: InstanceConfig, progress: Progress): Promise<RuntimeStatus>;
  /** Last-resort stop when no agent is there to do it; bounded at every step. */
  stop(cfg: InstanceConfig, progress: Progress): Promise<void>;
}

export function asVmLifecycle(d: Driver): (Driver & VmLifecycle) | undefined {
  const c = d as Partial<VmLifecycle>;
  return typeof c.start === "function" && typeof c.stop === "function" ? (d as Driver & VmLifecycle) : undefined;
}

/** The driver's lifecycle, or the error that says who starts and stops its VMs. */
export function requireVmLifecycle(d: Driver, cfg: InstanceConfig, op: "start" | "stop"): Driver & VmLifecycle {
  const l = asVmLifecycle(d);
  if (l) return l;
  throw (
    d.lifecycleRefusal?.(cfg, op) ??
    new HotmountError("UNSUPPORTED", `the ${d.name} driver cannot ${op} VMs: something other than hotmount does`, { details: { driver: d.name, op } })
  );
}

/** Optional: a driver whose VMs something else starts (Lima, libvirt) finds them itself. */
export interface VmDiscovery {
  /** Every VM of this driver on the host, as `vm list` rows; starts nothing. */
  discover(): Promise<DiscoveredVm[]>;
  /** Writes the hotmount instance dir for a discovered VM (idempotent) so that an agent can attach; null when `name` is not one of this driver's VMs. */
  register(name: string): Promise<InstanceConfig | null>;
}

export function asVmDiscovery(d: Driver): (Driver & VmDiscovery) | undefined {
  const c = d as Partial<VmDiscovery>;
  return typeof c.discover === "function" && typeof c.register === "function" ? (d as Driver & VmDiscovery) : undefined;
}

export interface DriverSession {
  readonly driver: string;
  /** Which transports this VM can take, or why not (no shared memory, no 9p slots, not hot-pluggable...). */
  transports(): Promise<TransportAvailability[]>;
  /** Bounded power-off (guest first, then the hypervisor); the agent calls it after its mounts are gone. */
  powerOff(progress: Progress): Promise<void>;
  close(): Promise<void>;
  /** Only for a session without FSHotPlugger: the error a device mount of `type` gets, saying what is missing. */
  hotPlugRefusal?(type: DeviceTransport): HotmountError;
}

export interface PlugRequest {
  /** Mount id; becomes the device id and tag, so it must fit the tag limits (see deviceTag). */
  id: string;
  type: DeviceTransport;
  hostPath: string;
  writable: boolean;
  /** The guest's non-root login user, for backends that map ownership (virtiofs: Rust virtiofsd). */
  owner?: { uid: number; gid: number };
}

/** The tag a plugged device carries when it is the request's id: refused when the device type cannot hold it. */
export function deviceTag(req: Pick<PlugRequest, "id" | "type">): string {
  checkTag(req.id, req.type);
  return req.id;
}

/** What is attached right now, as the hypervisor sees it; the agent reconciles its journal with it. */
export interface DeviceInventory {
  devices: { id: string; slot: string | null }[];
  /** Backend handles that outlive a device (QEMU chardevs, virtiofsd pids). */
  backends: { id: string; kind: string; pid?: number }[];
}

/** Told that a plugged device's backend died while the device was attached (its mount is then broken). */
export type DeviceLostListener = (id: string, why: string) => void;

/** Runs argv in the guest as root; rejects when it cannot be run or exits non-zero. */
export type GuestRunner = (argv: string[]) => Promise<void>;

export interface FSHotPlugger {
  capacity(): Promise<{ total: number; used: number }>;
  /** Attaches a device; undoes every step it took when a later one fails. */
  plug(req: PlugRequest, progress: Progress): Promise<PluggedDevice>;
  /**
   * Detaches a device the guest has already unmounted; frees its slot. `guest`, when given, runs a
   * command in the guest: a driver may use it to have the guest let go of the slot at once.
   */
  unplug(dev: PluggedDevice, progress: Progress, guest?: GuestRunner): Promise<void>;
  /** Best-effort removal of leftovers named by id (device, backend, slot), for reconcile. */
  scrub(id: string): Promise<void>;
  inventory(): Promise<DeviceInventory>;
  /** Only where a device's backend is a separate process that can die on its own (QEMU: virtiofsd). */
  onDeviceLost?(listener: DeviceLostListener): void;
}

export function asFSHotPlugger(s: DriverSession): (DriverSession & FSHotPlugger) | undefined {
  const c = s as Partial<FSHotPlugger>;
  return typeof c.plug === "function" && typeof c.unplug === "function" ? (s as DriverSession & FSHotPlugger) : undefined;
}

export function requireFSHotPlugger(s: DriverSession, type: Transport): DriverSession & FSHotPlugger {
  const hp = asFSHotPlugger(s);
  if (hp) return hp;
  if (type !== "reverse-sshfs" && s.hotPlugRefusal) throw s.hotPlugRefusal(type);
  throw new HotmountError("UNSUPPORTED", `the ${s.driver} driver cannot hot-plug ${type} devices`, {
    hint: "Use --type reverse-sshfs, which works on any VM reachable over SSH.",
    details: { driver: s.driver, type },
  });
}
