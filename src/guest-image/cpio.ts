// Reading an initramfs (gzip'd newc cpio) without a host cpio: used by tests and diagnostics to
// check what an image contains.
import { readFileSync } from "node:fs";

export interface CpioEntry {
  name: string;
  mode: number;
  size: number;
}

/** Entries of a newc archive, optionally gzip-compressed (detected by its magic bytes). */
export function listInitramfs(path: string): CpioEntry[] {
  const raw = readFileSync(path);
  const buf: Uint8Array = raw[0] === 0x1f && raw[1] === 0x8b ? Bun.gunzipSync(raw) : raw;
  const dec = new TextDecoder();
  const hex = (at: number) => Number.parseInt(dec.decode(buf.subarray(at, at + 8)), 16);
  const pad4 = (n: number) => (n + 3) & ~3;
  const out: CpioEntry[] = [];
  for (let o = 0; o + 110 <= buf.length;) {
    if (dec.decode(buf.subarray(o, o + 6)) !== "070701") throw new Error(`not a newc cpio entry at byte ${o}`);
    const mode = hex(o + 14);
    const size = hex(o + 54);
    const namesize = hex(o + 94);
    const name = dec.decode(buf.subarray(o + 110, o + 110 + namesize - 1));
    if (name === "TRAILER!!!") break;
    out.push({ name: name.replace(/^\.?\//, ""), mode, size });
    o = pad4(pad4(o + 110 + namesize) + size);
  }
  return out;
}
