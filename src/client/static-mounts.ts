// `vm start --mount HOST:GUEST[:ro|:rw]`: virtiofs shares configured at boot (static), beside the
// hot-plugged ones. Writable unless `:ro`, as the VZ driver's boot-time shares are.
import { HotmountError } from "../core/errors.ts";
import { normalizeGuestPath, resolveHostPath } from "../core/validate.ts";

export interface StaticMountSpec {
  hostPath: string;
  mountPoint: string;
  tag: string;
  writable: boolean;
}

/** Each static share is one device on the root bus, which has a few dozen free slots in all. */
export const MAX_STATIC_MOUNTS = 8;

export const staticTag = (n: number) => `hm-static${n}`;

function usage(msg: string): never {
  throw new HotmountError("USAGE", msg, { hint: "Example: --mount ~/src:/mnt/src (add :ro for read-only); repeat --mount for more shares." });
}

/** Parses one --mount value; the guest path is the part after the last ":/", so host paths may hold ':'. */
export function parseStaticMount(v: string, n: number, cwd = process.cwd()): StaticMountSpec {
  let s = v;
  let writable = true;
  const mode = /:(ro|rw)$/.exec(s);
  if (mode) {
    writable = mode[1] === "rw";
    s = s.slice(0, -3);
  }
  const cut = s.lastIndexOf(":/");
  if (cut <= 0) usage(`--mount ${v} is not HOST:GUEST (the guest path must be absolute)`);
  return { hostPath: resolveHostPath(s.slice(0, cut), cwd), mountPoint: normalizeGuestPath(s.slice(cut + 1)), tag: staticTag(n), writable };
}

export function parseStaticMounts(values: string[], cwd = process.cwd()): StaticMountSpec[] {
  if (values.length > MAX_STATIC_MOUNTS) usage(`at most ${MAX_STATIC_MOUNTS} --mount shares, not ${values.length}`);
  const out = values.map((v, n) => parseStaticMount(v, n, cwd));
  for (const a of out) {
    const clash = out.find((b) => b !== a && (b.mountPoint === a.mountPoint || b.mountPoint.startsWith(a.mountPoint + "/")));
    if (clash) usage(`--mount guest paths ${a.mountPoint} and ${clash.mountPoint} overlap`);
  }
  return out;
}
