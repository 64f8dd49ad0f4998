// Just enough ELF64 (little-endian) reading for the guest build: the shared libraries a program
// needs, its interpreter, and a kernel module's .modinfo. The host has no kmod/binutils to ask.

interface Section {
  name: string;
  type: number;
  offset: number;
  size: number;
  link: number;
}

const SHT_DYNAMIC = 6;
const DT_NEEDED = 1n;

export function isElf(buf: Uint8Array): boolean {
  return buf.length > 64 && buf[0] === 0x7f && buf[1] === 0x45 && buf[2] === 0x4c && buf[3] === 0x46;
}

function cstr(buf: Uint8Array, at: number): string {
  let end = at;
  while (end < buf.length && buf[end] !== 0) end++;
  return new TextDecoder().decode(buf.subarray(at, end));
}

function sections(buf: Uint8Array): Section[] {
  if (!isElf(buf) || buf[4] !== 2 || buf[5] !== 1) return []; // only ELF64 little-endian
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const shoff = Number(dv.getBigUint64(0x28, true));
  const shentsize = dv.getUint16(0x3a, true);
  const shnum = dv.getUint16(0x3c, true);
  const shstrndx = dv.getUint16(0x3e, true);
  if (shoff === 0 || shoff + shnum * shentsize > buf.length) return [];
  const raw = [];
  for (let i = 0; i < shnum; i++) {
    const o = shoff + i * shentsize;
    raw.push({
      nameOff: dv.getUint32(o, true),
      type: dv.getUint32(o + 4, true),
      offset: Number(dv.getBigUint64(o + 24, true)),
      size: Number(dv.getBigUint64(o + 32, true)),
      link: dv.getUint32(o + 40, true),
    });
  }
  const strtab = raw[shstrndx];
  return raw.map((s) => ({ ...s, name: strtab ? cstr(buf, strtab.offset + s.nameOff) : "" }));
}

/** DT_NEEDED sonames of a dynamically linked program or library (empty for static ones). */
export function elfNeeded(buf: Uint8Array): string[] {
  const secs = sections(buf);
  const dyn = secs.find((s) => s.type === SHT_DYNAMIC);
  const str = dyn ? secs[dyn.link] : undefined;
  if (!dyn || !str) return [];
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: string[] = [];
  for (let o = dyn.offset; o + 16 <= dyn.offset + dyn.size; o += 16) {
    const tag = dv.getBigInt64(o, true);
    if (tag === 0n) break;
    if (tag === DT_NEEDED) out.push(cstr(buf, str.offset + Number(dv.getBigUint64(o + 8, true))));
  }
  return out;
}

/** The program interpreter (dynamic loader) path, or null for static programs and libraries. */
export function elfInterp(buf: Uint8Array): string | null {
  const s = sections(buf).find((x) => x.name === ".interp");
  return s ? cstr(buf, s.offset) : null;
}

/** A kernel module's .modinfo as key → values (a key such as `alias` may repeat). */
export function modinfo(buf: Uint8Array): Map<string, string[]> {
  const s = sections(buf).find((x) => x.name === ".modinfo");
  const out = new Map<string, string[]>();
  if (!s) return out;
  const text = new TextDecoder().decode(buf.subarray(s.offset, s.offset + s.size));
  for (const entry of text.split("\0")) {
    const eq = entry.indexOf("=");
    if (eq <= 0) continue;
    const k = entry.slice(0, eq);
    out.set(k, [...(out.get(k) ?? []), entry.slice(eq + 1)]);
  }
  return out;
}
