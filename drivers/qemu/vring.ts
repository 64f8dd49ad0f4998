// Split virtqueues as they sit in guest memory, read and written from the host through QEMU's
// /proc/PID/mem: a FUSE request chain (indirect tables followed), which requests the guest made
// available that no device answered (exactly avail.idx - used.idx of them, or none are named), and
// the answer {error: -EIO} with its used-ring entry. Used by vring-reaper.ts for a dead virtiofsd.
import { closeSync, openSync, readFileSync, readSync, writeSync } from "node:fs";

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

export interface Queue {
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

/** Reads QEMU memory through /proc/PID/mem. */
export class QemuMemory {
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
export function mappedInOnePiece(pid: number, base: number, size: number): boolean {
  for (const line of readFileSync(`/proc/${pid}/maps`, "utf8").split("\n")) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) /.exec(line);
    if (m && Number.parseInt(m[1]!, 16) <= base && Number.parseInt(m[2]!, 16) >= base + size) return true;
  }
  return false;
}

export function hvaOf(ram: RamMap, gpa: number, len: number): number | null {
  const r = ram.ranges.find((x) => gpa >= x.start && gpa + len - 1 <= x.end);
  return r ? r.hva + (gpa - r.start) : null;
}

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
export function outstanding(mem: QemuMemory, ram: RamMap, q: Queue): { n: number; found: Pending[] } | string {
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
export function answer(mem: QemuMemory, q: Queue, found: Pending[]): number {
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
