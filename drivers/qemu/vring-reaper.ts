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
import { closeSync, openSync, readFileSync, readSync, writeSync } from "node:fs";
import type { Logger } from "../driver.ts";
import type { QmpClient } from "../../src/qmp/index.ts";

const TICK_MS = 100;
/** Ticks between checks that the device is still there (QMP) when nothing is outstanding. */
const CHECK_EVERY = 10;
const DESC_F_NEXT = 1;
const DESC_F_WRITE = 2;
const DESC_F_INDIRECT = 4;
const FUSE_IN_HEADER = 40;
const FUSE_OUT_HEADER = 16;
const FUSE_FORGET = 2;
const EIO = 5;
const MAX_CHAIN = 1024;

interface Seg {
  gpa: number;
  len: number;
  write: boolean;
}

interface Queue {
  index: number;
  num: number;
  desc: number;
  avail: number;
  used: number;
  /** Guest-physical ring addresses, compared on every use with what the guest programmed. */
  gpa: [number, number, number];
}

/** Guest RAM as QEMU maps it: guest-physical ranges → host virtual addresses. */
export interface RamMap {
  ranges: { start: number; end: number; hva: number }[];
  /** Host address and size of the whole RAM block. */
  base: number;
  size: number;
}

export interface Rings {
  queues: Queue[];
  ram: RamMap;
}

const backendPath = (id: string) => `/machine/peripheral/${id}/virtio-backend`;

/** Reads QEMU memory through /proc/PID/mem. */
class QemuMemory {
  private constructor(private readonly fd: number) {}
  static open(pid: number): QemuMemory {
    return new QemuMemory(openSync(`/proc/${pid}/mem`, "r+"));
  }
  read(hva: number, n: number): Buffer {
    const b = Buffer.alloc(n);
    if (readSync(this.fd, b, 0, n, hva) !== n) throw new Error(`short read of QEMU memory at ${hva.toString(16)}`);
    return b;
  }
  write(hva: number, b: Buffer): void {
    if (writeSync(this.fd, b, 0, b.length, hva) !== b.length) throw new Error(`short write of QEMU memory at ${hva.toString(16)}`);
  }
  u16(hva: number): number {
    return this.read(hva, 2).readUInt16LE(0);
  }
  close(): void {
    closeSync(this.fd);
  }
}

const GiB = 2 ** 30;

/**
 * Where guest RAM sits in guest-physical space for the machine types hotmount's QEMU VMs use (one
 * memory backend, QEMU's own layout: q35 and i440fx split it around the 4 GiB hole, arm's virt
 * starts it at 1 GiB), anchored at one known (guest-physical, host-virtual) pair, a ring address.
 * Not `info mtree -f`: measured on QEMU 7.2, one such HMP call makes QEMU hold on to a device being
 * unplugged (no DEVICE_DELETED) until the QMP connection closes.
 */
export function ramLayout(machine: string, size: number, gpa: number, hva: number): RamMap | null {
  let parts: { start: number; len: number }[];
  if (/q35/.test(machine)) {
    const low = size >= 0xb0000000 ? 2 * GiB : size;
    parts = [
      { start: 0, len: low },
      { start: 4 * GiB, len: size - low },
    ];
  } else if (/i440fx|^pc-|^pc$/.test(machine)) {
    const low = size >= 0xe0000000 ? 3 * GiB : size;
    parts = [
      { start: 0, len: low },
      { start: 4 * GiB, len: size - low },
    ];
  } else if (/^virt/.test(machine)) {
    parts = [{ start: GiB, len: size }];
  } else return null;
  let offset = 0;
  const layout = parts.filter((p) => p.len > 0).map((p) => ((offset += p.len), { start: p.start, end: p.start + p.len - 1, off: offset - p.len }));
  const home = layout.find((r) => gpa >= r.start && gpa <= r.end);
  if (!home) return null;
  const base = hva - (home.off + (gpa - home.start));
  return { ranges: layout.map((r) => ({ start: r.start, end: r.end, hva: base + r.off })), base, size };
}

/** Whether QEMU really maps [base, base+size) in one piece (a wrong layout would write elsewhere). */
function mappedInOnePiece(pid: number, base: number, size: number): boolean {
  for (const line of readFileSync(`/proc/${pid}/maps`, "utf8").split("\n")) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) /.exec(line);
    if (m && Number.parseInt(m[1]!, 16) <= base && Number.parseInt(m[2]!, 16) >= base + size) return true;
  }
  return false;
}

function hvaOf(ram: RamMap, gpa: number, len: number): number | null {
  const r = ram.ranges.find((x) => gpa >= x.start && gpa + len - 1 <= x.end);
  return r ? r.hva + (gpa - r.start) : null;
}

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
  if (known && fits(known)) return { queues, ram: known };
  const mems = await qmp.execute<{ size: number }[]>("query-memdev", undefined, { timeoutMs: 3000 });
  if (mems.length !== 1) return `guest RAM is ${mems.length} memory backends (one is supported)`;
  const machine = await qmp.execute<string>("qom-get", { path: "/machine", property: "type" }, { timeoutMs: 3000 });
  const ram = ramLayout(machine, mems[0]!.size, queues[0]!.gpa[0], queues[0]!.desc);
  if (!ram) return `cannot place guest RAM on machine ${machine}`;
  if (!fits(ram) || !mappedInOnePiece(pid, ram.base, ram.size)) return "guest memory map does not match the rings";
  return { queues, ram };
}

const sameRings = (a: Rings, b: Rings) =>
  a.queues.length === b.queues.length && a.queues.every((q, i) => q.gpa.join() === b.queues[i]!.gpa.join() && q.desc === b.queues[i]!.desc);

/** The segments of the chain whose head is `head`, indirect tables followed; null if it is not one. */
function chain(mem: QemuMemory, ram: RamMap, q: Queue, head: number): Seg[] | null {
  const segs: Seg[] = [];
  let table = q.desc;
  let size = q.num;
  let i = head;
  let indirect = false;
  for (let hops = 0; hops < MAX_CHAIN; hops++) {
    if (i >= size) return null;
    const d = mem.read(table + 16 * i, 16);
    const gpa = Number(d.readBigUInt64LE(0));
    const len = d.readUInt32LE(8);
    const flags = d.readUInt16LE(12);
    if (flags & DESC_F_INDIRECT) {
      if (indirect || hops > 0 || len % 16 || len === 0 || len > 16 * MAX_CHAIN) return null;
      const t = hvaOf(ram, gpa, len);
      if (t === null) return null;
      [table, size, i, indirect] = [t, len / 16, 0, true];
      continue;
    }
    if (hvaOf(ram, gpa, len) === null) return null;
    segs.push({ gpa, len, write: (flags & DESC_F_WRITE) !== 0 });
    if (!(flags & DESC_F_NEXT)) return segs;
    i = d.readUInt16LE(14);
  }
  return null;
}

interface Pending {
  head: number;
  /** Where the reply header goes (none for a FORGET). */
  reply: { hva: number; unique: bigint } | null;
  /** In-header address, to tell a live request from a stale chain that shares its memory. */
  key: number;
}

/** A request still waiting for its reply: consistent lengths, reply header untouched. */
function pendingRequest(mem: QemuMemory, ram: RamMap, q: Queue, head: number, hiprio: boolean): Pending | null {
  const segs = chain(mem, ram, q, head);
  if (!segs?.length || segs[0]!.write || segs[0]!.len < FUSE_IN_HEADER) return null;
  const inHva = hvaOf(ram, segs[0]!.gpa, FUSE_IN_HEADER)!;
  const ih = mem.read(inHva, FUSE_IN_HEADER);
  const [len, opcode, unique] = [ih.readUInt32LE(0), ih.readUInt32LE(4), ih.readBigUInt64LE(8)];
  const readable = segs.filter((s) => !s.write).reduce((n, s) => n + s.len, 0);
  if (unique === 0n || len !== readable || opcode === 0 || opcode > 200) return null;
  if (hiprio) return opcode === FUSE_FORGET && segs.length === 1 ? { head, reply: null, key: inHva } : null;
  const out = segs.find((s) => s.write);
  if (!out || out.len < FUSE_OUT_HEADER || segs.findIndex((s) => s.write) !== segs.filter((s) => !s.write).length) return null;
  const outHva = hvaOf(ram, out.gpa, FUSE_OUT_HEADER)!;
  const oh = mem.read(outHva, FUSE_OUT_HEADER);
  if (oh.readUInt32LE(0) !== 0 || oh.readInt32LE(4) !== 0 || oh.readBigUInt64LE(8) !== 0n) return null;
  return { head, reply: { hva: outHva, unique }, key: inHva };
}

/** The requests outstanding in `q`: exactly avail.idx - used.idx of them, or why not known. */
function outstanding(mem: QemuMemory, ram: RamMap, q: Queue): { n: number; found: Pending[] } | string {
  const availIdx = mem.u16(q.avail + 2);
  const usedIdx = mem.u16(q.used + 2);
  const n = (availIdx - usedIdx) & 0xffff;
  if (n === 0) return { n, found: [] };
  if (n > q.num) return `queue ${q.index}: ${n} outstanding is more than the ring holds`;
  // How recently each head was made available (0 = the newest), over the ring's last num entries.
  const age = new Map<number, number>();
  for (let j = 0; j < q.num; j++) {
    const head = mem.u16(q.avail + 4 + 2 * (((availIdx - 1 - j) & 0xffff) % q.num));
    if (!age.has(head)) age.set(head, j);
  }
  let found: Pending[];
  if (q.index === 0) {
    // The hiprio queue carries FORGETs (no reply to check), answered in order: the last n made available.
    found = [];
    for (let j = n - 1; j >= 0; j--) {
      const head = mem.u16(q.avail + 4 + 2 * (((availIdx - 1 - j) & 0xffff) % q.num));
      const p = pendingRequest(mem, ram, q, head, true);
      if (!p) return `queue 0: entry ${head} is not a FORGET`;
      found.push(p);
    }
  } else {
    // Any descriptor may head a request still waiting (virtiofsd answers out of order); a stale
    // chain can share a live request's memory: then the one made available last is the live one.
    const byKey = new Map<number, Pending>();
    for (let head = 0; head < q.num; head++) {
      const p = pendingRequest(mem, ram, q, head, false);
      if (!p) continue;
      const other = byKey.get(p.key);
      if (!other) byKey.set(p.key, p);
      else {
        const [a, b] = [age.get(p.head), age.get(other.head)];
        if (a === undefined && b === undefined) return `queue ${q.index}: two chains share one request`;
        if ((a ?? Infinity) < (b ?? Infinity)) byKey.set(p.key, p);
      }
    }
    found = [...byKey.values()].sort((x, y) => (age.get(y.head) ?? q.num) - (age.get(x.head) ?? q.num));
  }
  if (found.length !== n) return `queue ${q.index}: ${n} outstanding, ${found.length} recognised`;
  return { n, found };
}

/** Answers everything outstanding in `q` with EIO; returns how many. */
function answer(mem: QemuMemory, q: Queue, found: Pending[]): number {
  let usedIdx = mem.u16(q.used + 2);
  for (const p of found) {
    if (p.reply) {
      const oh = Buffer.alloc(FUSE_OUT_HEADER);
      oh.writeUInt32LE(FUSE_OUT_HEADER, 0);
      oh.writeInt32LE(-EIO, 4);
      oh.writeBigUInt64LE(p.reply.unique, 8);
      mem.write(p.reply.hva, oh);
    }
    const ue = Buffer.alloc(8);
    ue.writeUInt32LE(p.head, 0);
    ue.writeUInt32LE(p.reply ? FUSE_OUT_HEADER : 0, 4);
    mem.write(q.used + 4 + 8 * (usedIdx % q.num), ue);
    usedIdx = (usedIdx + 1) & 0xffff;
  }
  const idx = Buffer.alloc(2);
  idx.writeUInt16LE(usedIdx, 0);
  mem.write(q.used + 2, idx); // after the entries: the guest reads the index first
  return found.length;
}

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
    for (const q of work) {
      const o = outstanding(mem, rings.ram, q);
      if (typeof o === "string") this.why(id, st, o);
      else answered += answer(mem, q, o.found);
    }
    if (!answered) return "again";
    st.total += answered;
    const rang = await this.d.signal(pid, this.d.notifierIds(id)).catch((e) => (this.why(id, st, `cannot interrupt the guest: ${String(e)}`), 0));
    this.d.log.info("answered a dead virtiofsd's requests with EIO", { id, answered, total: st.total, eventfds: rang });
    return "again";
  }
}

interface TickState {
  rings: Rings | null;
  total: number;
  lastWhy: string;
}
