// Option parsers for commander, validated with zod: they throw typed USAGE errors.
import { z } from "zod";
import { HotmountError } from "../core/errors.ts";

function usage(msg: string, hint: string): never {
  throw new HotmountError("USAGE", msg, { hint });
}

/** "512M", "2G", "1024" (MiB) → MiB. */
export function parseMemory(v: string): number {
  const m = /^(\d+)\s*([MmGg]i?[Bb]?)?$/.exec(v.trim());
  if (!m) usage(`invalid memory size "${v}"`, "Use a size such as 512M or 2G.");
  const n = Number(m[1]) * (m[2] && /^g/i.test(m[2]) ? 1024 : 1);
  const r = z
    .number()
    .int()
    .min(128)
    .max(1 << 20)
    .safeParse(n);
  if (!r.success) usage(`memory ${v} is out of range`, "Use at least 128M.");
  return n;
}

export function intIn(name: string, min: number, max: number) {
  return (v: string): number => {
    const r = z.coerce.number().int().min(min).max(max).safeParse(v);
    if (!r.success) usage(`${name} must be a whole number from ${min} to ${max}, not "${v}"`, `Example: ${name} ${Math.min(max, Math.max(min, 4))}`);
    return r.data;
  };
}

export function oneOf<T extends string>(name: string, values: readonly T[]) {
  return (v: string): T => {
    if (!(values as readonly string[]).includes(v)) usage(`${name} must be one of ${values.join(", ")}, not "${v}"`, `Example: ${name} ${values[0]}`);
    return v as T;
  };
}
