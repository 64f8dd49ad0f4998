// Answers, with EIO, the FUSE requests a dead virtiofsd left in its virtqueues, so that the guest
// never waits on them. Without this a killed virtiofsd wedges the guest: its virtio-fs driver has
// no abort (no fusectl entry, no `umount -f`: virtio_fs.c sets no_control and no_force_umount),
// QEMU's vhost-user-fs cannot take a new backend, and every request already in a queue (and every
// later one) waits forever — including the guest's device removal, which drains the queues while
// holding the driver's global mutex, so every later virtiofs mount in the guest hangs as well.
//
// What it does, per queue, while the device still exists and its chardev is disconnected: read the
// split ring (addresses from QEMU's x-query-virtio-*), find the requests the guest made available
// and no device answered, write a FUSE reply header {error: -EIO} into each one's reply buffer and
// a used-ring entry, then signal the queue's call eventfd (qemu-eventfds.ts) so QEMU raises the
// interrupt. Guest memory is QEMU's (/proc/PID/mem, root or ptrace rights). When it cannot tell
// exactly which requests are outstanding it answers none: a wrong answer would break the guest's ring.
import { answer, hvaOf, mappedInOnePiece, outstanding, QemuMemory, ramLayout, type Queue, type RamMap } from "./vring.ts";
import type { Logger } from "../driver.ts";
import type { QmpClient } from "../../src/qmp/index.ts";

const TICK_MS = 100;
/** Ticks between checks that the device is still there (QMP) when nothing is outstanding. */
const CHECK_EVERY = 10;
/** How long the guest may take to read answers before the interrupt is raised the blunt way. */
const UNREAD_MS = 1000;
const NUDGES = 3;

export interface Rings {
  queues: Queue[];
  ram: RamMap;
  /** VIRTIO_RING_F_EVENT_IDX: the guest writes where it has read the used ring up to (used_event). */
  eventIdx: boolean;
}

const backendPath = (id: string) => `/machine/peripheral/${id}/virtio-backend`;

/** The device's rings as QEMU knows them, or why they cannot be used ("gone" when the device is). */
export async function describeRings(qmp: QmpClient, id: string, pid: number, known?: RamMap): Promise<Rings | string> {
  const path = backendPath(id);
  let st: { status?: { statuses?: string[] }; "guest-features"?: { transports?: string[] }; "vhost-dev"?: { nvqs?: number } };
  try {
    st = await qmp.execute("x-query-virtio-status", { path }, { timeoutMs: 3000 });
  } catch (e) {
    const list = await qmp.execute<{ name: string }[]>("qom-list", { path: "/machine/peripheral" }, { timeoutMs: 3000 }).catch(() => null);
    if (list && !list.some((p) => p.name === id)) return "gone";
    return `QEMU cannot describe the device's queues: ${e instanceof Error ? e.message : String(e)}`;
  }
  if (!st.status?.statuses?.some((s) => s.startsWith("VIRTIO_CONFIG_S_DRIVER_OK"))) return "the guest driver has not started the device";
  if (st["guest-features"]?.transports?.some((s) => s.startsWith("VIRTIO_F_RING_PACKED"))) return "the device uses packed rings";
  const eventIdx = !!st["guest-features"]?.transports?.some((s) => s.startsWith("VIRTIO_RING_F_EVENT_IDX"));
  const nvqs = st["vhost-dev"]?.nvqs ?? 0;
  const queues: Queue[] = [];
  for (let q = 0; q < nvqs; q++) {
    const v = await qmp.execute<Record<string, number>>("x-query-virtio-vhost-queue-status", { path, queue: q }, { timeoutMs: 3000 });
    const g = await qmp.execute<Record<string, number>>("x-query-virtio-queue-status", { path, queue: q }, { timeoutMs: 3000 });
    const gpa: [number, number, number] = [v["desc-phys"]!, v["avail-phys"]!, v["used-phys"]!];
    // What the guest programmed must be what the (dead) backend was given: after a guest reset it is not.
    if (!gpa[0] || gpa[0] !== g["vring-desc"] || gpa[1] !== g["vring-avail"] || gpa[2] !== g["vring-used"]) return `queue ${q} was reset by the guest`;
    queues.push({ index: q, num: v.num!, desc: v.desc!, avail: v.avail!, used: v.used!, gpa });
  }
  if (!queues.length) return "the device has no queues";
  const fits = (ram: RamMap) =>
    queues.every((q) => hvaOf(ram, q.gpa[0], 16) === q.desc && hvaOf(ram, q.gpa[1], 4) === q.avail && hvaOf(ram, q.gpa[2], 4) === q.used);
  if (known && fits(known)) return { queues, ram: known, eventIdx };
  const mems = await qmp.execute<{ size: number }[]>("query-memdev", undefined, { timeoutMs: 3000 });
  if (mems.length !== 1) return `guest RAM is ${mems.length} memory backends (one is supported)`;
  const machine = await qmp.execute<string>("qom-get", { path: "/machine", property: "type" }, { timeoutMs: 3000 });
  const ram = ramLayout(machine, mems[0]!.size, queues[0]!.gpa[0], queues[0]!.desc);
  if (!ram) return `cannot place guest RAM on machine ${machine}`;
  if (!fits(ram) || !mappedInOnePiece(pid, ram.base, ram.size)) return "guest memory map does not match the rings";
  return { queues, ram, eventIdx };
}

const sameRings = (a: Rings, b: Rings) =>
  a.queues.length === b.queues.length && a.queues.every((q, i) => q.gpa.join() === b.queues[i]!.gpa.join() && q.desc === b.queues[i]!.desc);

export interface ReaperDeps {
  qmp: QmpClient;
  log: Logger;
  qemuPid(): number | null;
  /** Is the device's backend still gone (chardev disconnected)? Checked before every answer. */
  backendDead(id: string): Promise<boolean>;
  /** The device's noted eventfd ids (null: never noted; signal QEMU's unshared ones instead). */
  notifierIds(id: string): number[] | null;
  signal(qemuPid: number, ids: number[] | null): Promise<number>;
}

/**
 * Keeps answering a dead device's requests until the device is deleted (the guest's removal needs
 * its queues drained) or `stop`. One loop per device id.
 */
export class VringReaper {
  private readonly loops = new Map<string, { stop: boolean; done: Promise<void> }>();

  constructor(private readonly d: ReaperDeps) {}

  isReaping(id: string): boolean {
    return this.loops.has(id);
  }

  /** Why requests cannot be answered on this host (null: they can). */
  whyNot(): string | null {
    const pid = this.d.qemuPid();
    if (!pid) return "QEMU's pid is unknown";
    try {
      QemuMemory.open(pid).close();
      return null;
    } catch (e) {
      return `QEMU's memory is not writable by the agent (${e instanceof Error ? e.message : String(e)}); the agent needs root or ptrace rights over QEMU`;
    }
  }

  start(id: string): void {
    if (this.loops.has(id)) return;
    const loop = { stop: false, done: Promise.resolve() };
    loop.done = this.run(id, loop).finally(() => {
      if (this.loops.get(id) === loop) this.loops.delete(id);
    });
    this.loops.set(id, loop);
  }

  async stop(id: string): Promise<void> {
    const l = this.loops.get(id);
    if (!l) return;
    l.stop = true;
    await l.done;
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.loops.keys()].map((id) => this.stop(id)));
  }

  private async run(id: string, loop: { stop: boolean }): Promise<void> {
    const pid = this.d.qemuPid();
    if (!pid) return this.d.log.warn("cannot answer a dead virtiofsd's requests: QEMU's pid is unknown", { id });
    let mem: QemuMemory;
    try {
      mem = QemuMemory.open(pid);
    } catch (e) {
      return this.d.log.warn("cannot answer a dead virtiofsd's requests: QEMU's memory is not writable here", { id, error: String(e) });
    }
    this.d.log.info("answering a dead virtiofsd's requests", { id });
    const st: TickState = { rings: null, total: 0, lastWhy: "" };
    try {
      for (let tick = 0; !loop.stop; tick++, await Bun.sleep(TICK_MS)) {
        const r = await this.tick(id, pid, mem, st, tick).catch((e) => (this.why(id, st, String(e)), "again" as const));
        if (r === "gone") break;
      }
    } finally {
      mem.close();
    }
  }

  /**
   * The guest reads answers only when interrupted. If it has not read them within UNREAD_MS (the
   * noted eventfds were stale: the guest reset the device since), every QEMU eventfd no other
   * process holds is signalled instead.
   */
  private async nudge(id: string, pid: number, mem: QemuMemory, rings: Rings, st: TickState): Promise<void> {
    const u = st.unread;
    if (!u || !rings.eventIdx) return;
    if (u.queues.every((q) => mem.u16(q.avail + 4 + 2 * q.num) === mem.u16(q.used + 2))) {
      st.unread = null;
      return;
    }
    if (Date.now() - u.since < UNREAD_MS || u.tries >= NUDGES) return;
    u.tries++;
    u.since = Date.now();
    const rang = await this.d.signal(pid, null).catch(() => 0);
    this.d.log.warn("the guest did not read the answers; signalled all of QEMU's unshared eventfds", { id, eventfds: rang });
  }

  private why(id: string, st: TickState, w: string): void {
    if (w !== st.lastWhy) this.d.log.warn("dead virtiofsd: requests left unanswered for now", { id, why: w });
    st.lastWhy = w;
  }

  private async tick(id: string, pid: number, mem: QemuMemory, st: TickState, tick: number): Promise<"gone" | "again"> {
    if (!st.rings || tick % CHECK_EVERY === 0) {
      const r = await describeRings(this.d.qmp, id, pid, st.rings?.ram);
      if (r === "gone") return "gone";
      st.rings = typeof r === "string" ? (this.why(id, st, r), null) : r;
      if (!st.rings) return "again";
    }
    const rings = st.rings;
    await this.nudge(id, pid, mem, rings, st);
    const work = rings.queues.filter((q) => mem.u16(q.avail + 2) !== mem.u16(q.used + 2));
    if (!work.length) return "again";
    // Check again, right before answering: the backend is still gone and the rings unchanged.
    const now = await describeRings(this.d.qmp, id, pid, rings.ram);
    if (now === "gone") return "gone";
    if (typeof now === "string" || !sameRings(now, rings) || !(await this.d.backendDead(id))) {
      st.rings = null;
      if (typeof now === "string") this.why(id, st, now);
      return "again";
    }
    let answered = 0;
    const told: Queue[] = [];
    for (const q of work) {
      const o = outstanding(mem, rings.ram, q);
      if (typeof o === "string") this.why(id, st, o);
      else {
        answered += answer(mem, q, o.found);
        told.push(q);
      }
    }
    if (!answered) return "again";
    st.total += answered;
    st.unread = { queues: told, since: Date.now(), tries: 0 };
    const rang = await this.d.signal(pid, this.d.notifierIds(id)).catch((e) => (this.why(id, st, `cannot interrupt the guest: ${String(e)}`), 0));
    this.d.log.info("answered a dead virtiofsd's requests with EIO", { id, answered, total: st.total, eventfds: rang });
    return "again";
  }
}

interface TickState {
  rings: Rings | null;
  total: number;
  lastWhy: string;
  /** Queues answered whose answers the guest has not read yet (seen through used_event). */
  unread?: { queues: Queue[]; since: number; tries: number } | null;
}
