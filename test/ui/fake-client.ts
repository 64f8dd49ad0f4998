// FakeHotmountClient: an in-memory stand-in for the real client, for the TUI's unit tests and
// the tmux demo. It keeps instances and mounts in maps, answers like the agent does (typed
// HotmountErrors, MOUNT_BUSY for busy mounts) and records every call. It is a fake at the
// process edge, not a model of a VM: nothing here boots or mounts anything.
import type { Info, InstanceSummary, Mount, MountRequest, TransportAvailability } from "../../src/agent/api.ts";
import type { HotmountClient, RemoveOptions, StartOptions } from "../../src/client/types.ts";
import { HotmountError } from "../../src/core/errors.ts";

export interface FakeInstance {
  summary: InstanceSummary;
  mounts: Mount[];
  log: string[];
  /** Mount points a guest process holds open: removal is refused unless forced. */
  busy: Set<string>;
}

export interface FakeOptions {
  /** Delay of addMount/removeMount/startVm/stopVm steps, in ms (default 0). */
  delayMs?: number;
  /** A new mount reports "adding" for this long before "ready" (default 0: ready at once). */
  readyAfterMs?: number;
  now?: () => number;
}

export const ALL_TRANSPORTS: TransportAvailability[] = [
  { type: "virtiofs", available: true },
  { type: "9p", available: true },
  { type: "reverse-sshfs", available: false, reason: "sshfs is not installed in the guest" },
];

export function fakeInstance(name: string, over: Partial<InstanceSummary> = {}): InstanceSummary {
  return {
    name,
    driver: "qemu",
    state: "running",
    pid: 4242,
    accel: "kvm",
    ssh: { host: "127.0.0.1", port: 60022, user: "hm", identityFile: "/tmp/id" },
    slots: { total: 8, used: 0 },
    transports: ALL_TRANSPORTS,
    mounts: 0,
    ...over,
  };
}

export function fakeMount(instance: string, n: number, over: Partial<Mount> = {}): Mount {
  return {
    id: `m${n}`,
    instance,
    hostPath: `/home/dev/src/project-${n}`,
    mountPoint: `/mnt/project-${n}`,
    type: "virtiofs",
    writable: true,
    persist: false,
    state: "ready",
    tag: `hm${n}`,
    slot: `rp${n}`,
    createdAt: new Date(Date.UTC(2026, 0, 1, 12, 0, 0)).toISOString(),
    ...over,
  };
}

const sleep = (ms: number) => (ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve());

export class FakeHotmountClient implements HotmountClient {
  readonly instances = new Map<string, FakeInstance>();
  readonly calls: { method: string; args: unknown[] }[] = [];
  /** When set, the next call of that method throws it (once). */
  readonly failNext = new Map<string, HotmountError>();
  private nextId = 100;
  private readonly delayMs: number;
  private readonly readyAfterMs: number;
  private readonly now: () => number;

  constructor(instances: (InstanceSummary | FakeInstance)[] = [], opts: FakeOptions = {}) {
    for (const i of instances) {
      const fi = "summary" in i ? i : { summary: i, mounts: [], log: [], busy: new Set<string>() };
      this.instances.set(fi.summary.name, fi);
    }
    this.delayMs = opts.delayMs ?? 0;
    this.readyAfterMs = opts.readyAfterMs ?? 0;
    this.now = opts.now ?? Date.now;
  }

  private enter(method: string, args: unknown[]): void {
    this.calls.push({ method, args });
    const e = this.failNext.get(method);
    if (e) {
      this.failNext.delete(method);
      throw e;
    }
  }

  private get(name: string): FakeInstance {
    const i = this.instances.get(name);
    if (!i) throw new HotmountError("INSTANCE_NOT_FOUND", `No instance named ${name}.`, { hint: "hotmount vm list shows the instances." });
    return i;
  }

  private running(name: string): FakeInstance {
    const i = this.get(name);
    if (i.summary.state !== "running")
      throw new HotmountError("INSTANCE_NOT_RUNNING", `${name} is not running.`, { hint: `Start it with: hotmount vm start ${name}` });
    return i;
  }

  private settle(i: FakeInstance): void {
    // Mounts become ready once readyAfterMs has passed, as the agent's would after the guest mounted.
    for (const m of i.mounts) if (m.state === "adding" && this.now() - Date.parse(m.createdAt) >= this.readyAfterMs) m.state = "ready";
    i.summary.mounts = i.mounts.length;
    i.summary.slots = { ...i.summary.slots, used: i.mounts.filter((m) => m.slot).length };
  }

  async listInstances(): Promise<InstanceSummary[]> {
    this.enter("listInstances", []);
    return [...this.instances.values()].map((i) => (this.settle(i), structuredClone(i.summary)));
  }

  async summary(instance: string): Promise<InstanceSummary> {
    this.enter("summary", [instance]);
    const i = this.get(instance);
    this.settle(i);
    return structuredClone(i.summary);
  }

  async listAllMounts(): Promise<Mount[]> {
    this.enter("listAllMounts", []);
    return [...this.instances.values()].filter((i) => i.summary.state === "running").flatMap((i) => (this.settle(i), structuredClone(i.mounts)));
  }

  async info(instance: string): Promise<Info> {
    this.enter("info", [instance]);
    const s = this.get(instance).summary;
    return {
      instance,
      driver: s.driver,
      state: s.state,
      pid: s.pid,
      accel: s.accel,
      ssh: s.ssh,
      slots: s.slots,
      transports: s.transports,
      agent: { pid: 1, version: "fake", startedAt: new Date(0).toISOString() },
    };
  }

  async listMounts(instance: string): Promise<Mount[]> {
    this.enter("listMounts", [instance]);
    const i = this.running(instance);
    this.settle(i);
    return structuredClone(i.mounts);
  }

  async addMount(instance: string, req: MountRequest): Promise<Mount> {
    this.enter("addMount", [instance, req]);
    const i = this.running(instance);
    const mountPoint = req.mountPoint ?? req.hostPath;
    if (i.mounts.some((m) => m.mountPoint === mountPoint)) {
      throw new HotmountError("MOUNT_CONFLICT", `${mountPoint} is already a mount point in ${instance}.`, {
        hint: "Pick another guest path or remove that mount first.",
      });
    }
    await sleep(this.delayMs);
    const n = this.nextId++;
    const type = req.type === undefined || req.type === "auto" ? "virtiofs" : req.type;
    const m: Mount = {
      id: `m${n}`,
      instance,
      hostPath: req.hostPath,
      mountPoint,
      type,
      writable: req.writable ?? false,
      persist: req.persist ?? false,
      watch: req.watch ?? true,
      state: this.readyAfterMs > 0 ? "adding" : "ready",
      ...(type === "reverse-sshfs" ? {} : { tag: `hm${n}`, slot: `rp${n}` }),
      createdAt: new Date(this.now()).toISOString(),
    };
    i.mounts.push(m);
    i.log.push(`added ${m.hostPath} at ${m.mountPoint}`);
    this.settle(i);
    return structuredClone(m);
  }

  async removeMount(instance: string, idOrMountPoint: string, opts?: RemoveOptions): Promise<void> {
    this.enter("removeMount", [instance, idOrMountPoint, opts]);
    const i = this.running(instance);
    const m = i.mounts.find((x) => x.id === idOrMountPoint || x.mountPoint === idOrMountPoint);
    if (!m) throw new HotmountError("MOUNT_NOT_FOUND", `No mount ${idOrMountPoint} in ${instance}.`);
    if (i.busy.has(m.mountPoint) && !opts?.force) {
      throw new HotmountError("MOUNT_BUSY", `${m.mountPoint} is busy: process 812 (bash) has its working directory there.`, {
        hint: "Close what uses it, or force a lazy unmount.",
      });
    }
    await sleep(this.delayMs);
    i.mounts = i.mounts.filter((x) => x !== m);
    i.busy.delete(m.mountPoint);
    this.settle(i);
  }

  async startVm(instance: string, _opts?: StartOptions, onProgress?: (step: string) => void): Promise<void> {
    this.enter("startVm", [instance, _opts]);
    const i = this.get(instance);
    if (i.summary.state === "running") throw new HotmountError("INSTANCE_ALREADY_RUNNING", `${instance} is already running.`);
    i.summary.state = "starting";
    for (const step of ["booting the guest", "waiting for ssh", "starting the agent"]) {
      onProgress?.(step);
      await sleep(this.delayMs);
    }
    i.summary.state = "running";
  }

  async stopVm(instance: string, onProgress?: (step: string) => void): Promise<void> {
    this.enter("stopVm", [instance]);
    const i = this.running(instance);
    i.summary.state = "stopping";
    onProgress?.("powering off");
    await sleep(this.delayMs);
    i.mounts = [];
    i.summary.state = "stopped";
    this.settle(i);
  }

  async agentLog(instance: string, lines: number): Promise<string[]> {
    this.enter("agentLog", [instance, lines]);
    return this.get(instance).log.slice(-lines);
  }
}

/** The sample world the screenshots and the demo use. */
export function sampleClient(opts: FakeOptions = {}): FakeHotmountClient {
  const now = opts.now ?? Date.now;
  const ago = (min: number) => new Date(now() - min * 60_000).toISOString();
  const dev: FakeInstance = {
    summary: fakeInstance("dev", { slots: { total: 8, used: 2 }, mounts: 3 }),
    mounts: [
      fakeMount("dev", 1, { hostPath: "/home/dev/src/hotmount", mountPoint: "/work/hotmount", createdAt: ago(42) }),
      fakeMount("dev", 2, {
        hostPath: "/home/dev/datasets/imagenet-subset",
        mountPoint: "/data/imagenet",
        type: "9p",
        writable: false,
        watch: false,
        createdAt: ago(185),
      }),
      fakeMount("dev", 3, {
        hostPath: "/home/dev/notes",
        mountPoint: "/mnt/notes",
        type: "reverse-sshfs",
        tag: undefined,
        slot: undefined,
        state: "failed",
        createdAt: ago(3),
        error: { code: "SSH_FAILED", message: "sshfs exited: remote host has disconnected", hint: "Check the agent log (l)." },
      }),
    ],
    log: Array.from({ length: 40 }, (_, k) => `2026-01-01T12:00:${String(k).padStart(2, "0")}Z agent: event ${k}`),
    busy: new Set(["/work/hotmount"]),
  };
  return new FakeHotmountClient(
    [
      dev,
      fakeInstance("build", {
        driver: "qemu",
        accel: "tcg",
        slots: { total: 4, used: 0 },
        transports: [ALL_TRANSPORTS[0]!, { type: "9p", available: false, reason: "QEMU built without 9p" }, { type: "reverse-sshfs", available: true }],
      }),
      fakeInstance("lima-default", { driver: "lima", state: "stopped", pid: null, accel: null, ssh: null }),
    ],
    opts,
  );
}
