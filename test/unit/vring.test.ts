// The split-ring logic that answers a dead virtiofsd's requests (drivers/qemu/vring.ts), on rings
// built in this process's own memory and read back through /proc/self/mem, as the agent reads
// QEMU's: which requests are outstanding (out of order, a stale chain sharing a live request's
// memory, an answer written but not published), what the answer writes, and the RAM layouts.
import { describe, expect, test } from "bun:test";
import { ptr } from "bun:ffi";
import { answer, outstanding, QemuMemory, ramLayout, type Queue, type RamMap } from "../../drivers/qemu/vring.ts";

const NUM = 16;
const [DESC, AVAIL, USED, HEAP] = [0, 0x1000, 0x2000, 0x4000];

/** A queue in a buffer: "guest-physical" addresses are offsets into it. */
function ring(index = 1) {
  const buf = Buffer.alloc(0x40000);
  const base = ptr(buf);
  const ram: RamMap = { ranges: [{ start: 0, end: buf.length - 1, hva: base }], base, size: buf.length };
  const q: Queue = { index, num: NUM, desc: base + DESC, avail: base + AVAIL, used: base + USED, gpa: [DESC, AVAIL, USED] };
  let heap = HEAP;
  const alloc = (n: number) => ((heap += (n + 63) & ~63), heap - ((n + 63) & ~63));
  let unique = 100n;
  const desc = (at: number, gpa: number, len: number, flags: number, next = 0) => {
    buf.writeBigUInt64LE(BigInt(gpa), at);
    buf.writeUInt32LE(len, at + 8);
    buf.writeUInt16LE(flags, at + 12);
    buf.writeUInt16LE(next, at + 14);
  };
  const r = {
    buf,
    ram,
    q,
    /** A request chain on `head` (indirect table: in header, args, out header, out args); returns where its parts are. */
    request(head: number, opts: { argLen?: number; inHeader?: number } = {}) {
      const argLen = opts.argLen ?? 16;
      const inH = opts.inHeader ?? alloc(40);
      const args = alloc(argLen);
      const outH = inH + 40; // the out header sits beside the in header, as in a struct fuse_req
      const outArgs = alloc(64);
      buf.writeUInt32LE(40 + argLen, inH);
      buf.writeUInt32LE(3, inH + 4); // GETATTR
      buf.writeBigUInt64LE(unique++, inH + 8);
      buf.fill(0, outH, outH + 16);
      const table = alloc(64);
      desc(table, inH, 40, 1, 1);
      desc(table + 16, args, argLen, 1, 2);
      desc(table + 32, outH, 16, 3, 3);
      desc(table + 48, outArgs, 64, 2);
      desc(DESC + 16 * head, table, 64, 4);
      return { inH, outH };
    },
    forget(head: number) {
      const at = alloc(48);
      buf.writeUInt32LE(48, at);
      buf.writeUInt32LE(2, at + 4);
      buf.writeBigUInt64LE(unique++, at + 8);
      desc(DESC + 16 * head, at, 48, 0);
    },
    makeAvailable(head: number) {
      const idx = buf.readUInt16LE(AVAIL + 2);
      buf.writeUInt16LE(head, AVAIL + 4 + 2 * (idx % NUM));
      buf.writeUInt16LE((idx + 1) & 0xffff, AVAIL + 2);
    },
    /** What a live virtiofsd does: reply header, used entry, used index. */
    complete(head: number, outH: number | null) {
      if (outH !== null) {
        buf.writeUInt32LE(16, outH);
        buf.writeBigUInt64LE(1n, outH + 8);
      }
      const idx = buf.readUInt16LE(USED + 2);
      buf.writeUInt32LE(head, USED + 4 + 8 * (idx % NUM));
      buf.writeUInt16LE((idx + 1) & 0xffff, USED + 2);
    },
    usedIds: () => Array.from({ length: buf.readUInt16LE(USED + 2) }, (_, i) => buf.readUInt32LE(USED + 4 + 8 * (i % NUM))),
  };
  return r;
}

const mem = () => QemuMemory.open(process.pid);
const heads = (o: ReturnType<typeof outstanding>) => (typeof o === "string" ? o : o.found.map((p) => p.head));

describe("outstanding requests of a dead device", () => {
  test("none answered: all of them, oldest first; the answer is EIO and a used entry each", () => {
    const r = ring();
    const parts = [3, 7, 1].map((h) => (r.makeAvailable(h), r.request(h)));
    const m = mem();
    try {
      const o = outstanding(m, r.ram, r.q);
      expect(heads(o)).toEqual([3, 7, 1]);
      if (typeof o === "string") throw new Error(o);
      expect(answer(m, r.q, o.found)).toBe(3);
      expect(r.usedIds()).toEqual([3, 7, 1]);
      for (const p of parts) {
        expect(r.buf.readUInt32LE(p.outH)).toBe(16);
        expect(r.buf.readInt32LE(p.outH + 4)).toBe(-5);
        expect(r.buf.readBigUInt64LE(p.outH + 8)).toBe(r.buf.readBigUInt64LE(p.inH + 8));
      }
      expect(heads(outstanding(m, r.ram, r.q))).toEqual([]);
    } finally {
      m.close();
    }
  });

  test("answered out of order by the live virtiofsd: only the rest", () => {
    const r = ring();
    const parts = [0, 1, 2, 3, 4].map((h) => (r.makeAvailable(h), r.request(h)));
    r.complete(3, parts[3]!.outH);
    r.complete(1, parts[1]!.outH);
    const m = mem();
    try {
      expect(heads(outstanding(m, r.ram, r.q))).toEqual([0, 2, 4]);
    } finally {
      m.close();
    }
  });

  test("a completed chain whose memory a new request reuses: the newer chain is the live one", () => {
    const r = ring();
    const first = (r.makeAvailable(5), r.request(5));
    r.complete(5, first.outH);
    r.makeAvailable(6);
    r.request(6, { inHeader: first.inH }); // same request memory, fresh unique, reply header cleared
    const m = mem();
    try {
      expect(heads(outstanding(m, r.ram, r.q))).toEqual([6]);
    } finally {
      m.close();
    }
  });

  test("a reply written but not published (killed in between): nothing is answered", () => {
    const r = ring();
    const p = (r.makeAvailable(2), r.request(2));
    r.buf.writeUInt32LE(16, p.outH); // the reply header, but no used entry
    r.buf.writeBigUInt64LE(1n, p.outH + 8);
    const m = mem();
    try {
      expect(outstanding(m, r.ram, r.q)).toBe("queue 1: 1 outstanding, 0 recognised");
    } finally {
      m.close();
    }
  });

  test("the hiprio queue: the last FORGETs made available, in order; anything else refuses", () => {
    const r = ring(0);
    for (const h of [4, 9]) (r.forget(h), r.makeAvailable(h));
    r.complete(4, null);
    (r.forget(2), r.makeAvailable(2));
    const m = mem();
    try {
      expect(heads(outstanding(m, r.ram, r.q))).toEqual([9, 2]);
      r.makeAvailable(11); // a head with no FORGET behind it
      expect(outstanding(m, r.ram, r.q)).toBe("queue 0: entry 11 is not a FORGET");
    } finally {
      m.close();
    }
  });
});

describe("guest RAM layout", () => {
  const MiB = 2 ** 20;
  test("q35 below 2.75 GiB is one piece from 0; above, split at 2 GiB around the 4 GiB hole", () => {
    expect(ramLayout("pc-q35-7.2-machine", 512 * MiB, 0x3830000, 0x7f0003830000)?.ranges).toEqual([{ start: 0, end: 512 * MiB - 1, hva: 0x7f0000000000 }]);
    const big = ramLayout("pc-q35-10.0-machine", 4096 * MiB, 2 ** 32 + 0x1000, 0x7f0080001000)!;
    expect(big.base).toBe(0x7f0000000000);
    expect(big.ranges).toEqual([
      { start: 0, end: 2048 * MiB - 1, hva: 0x7f0000000000 },
      { start: 2 ** 32, end: 2 ** 32 + 2048 * MiB - 1, hva: 0x7f0080000000 },
    ]);
  });
  test("arm virt starts at 1 GiB; an unknown machine is refused", () => {
    expect(ramLayout("virt-10.0-machine", 256 * MiB, 2 ** 30 + 0x10, 0x5000010)?.ranges).toEqual([
      { start: 2 ** 30, end: 2 ** 30 + 256 * MiB - 1, hva: 0x5000000 },
    ]);
    expect(ramLayout("microvm", 256 * MiB, 0, 0)).toBeNull();
  });
});
