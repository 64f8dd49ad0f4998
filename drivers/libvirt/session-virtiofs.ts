// virtiofs in a qemu:///session domain. libvirt 9 refuses it ("virtiofs is not yet supported in
// session mode"): its session daemon runs as the desktop user and cannot start a virtiofsd that
// needs root. libvirt 10 and later start the Rust virtiofsd unprivileged, in a user namespace
// (--sandbox=namespace) whose ids come from the <filesystem>'s <idmap>, which virtiofsd sets up
// with newuidmap/newgidmap. This module asks the daemon its version (once per URI and process),
// says why a session cannot take virtiofs, and writes the <idmap> the way libvirt itself would
// fill it: the user's own uid and gid as 0, then the user's /etc/subuid and /etc/subgid range
// from 1, so files the guest's other users own map to ids the user owns on the host.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { VirshResult } from "../../src/util/virsh.ts";
import type { Virtiofsd } from "../qemu/host-tools.ts";

/** libvirt's version number (major * 1,000,000 + minor * 1,000 + micro) from which session domains take virtiofs. */
export const SESSION_VIRTIOFS_SINCE = 10_000_000;

export const isSessionUri = (uri: string) => /^[a-z+]+:\/\/[^/]*\/session(?:$|\?)/.test(uri);

/** The daemon's version from `virsh version --daemon` ("Running against daemon: 11.3.0"), as one number. */
export function parseDaemonVersion(out: string): number | null {
  const m = /Running against daemon:\s*(\d+)\.(\d+)\.(\d+)/.exec(out);
  return m ? Number(m[1]) * 1_000_000 + Number(m[2]) * 1_000 + Number(m[3]) : null;
}

export const formatVersion = (v: number) => `${Math.floor(v / 1_000_000)}.${Math.floor(v / 1_000) % 1_000}.${v % 1_000}`;

const known = new Map<string, number | null>();

/** The daemon's version through the caller's virsh (the agent's shell), asked once per URI. */
export async function daemonVersion(
  uri: string,
  run: (args: readonly string[], opts?: { timeoutMs?: number }) => Promise<VirshResult>,
): Promise<number | null> {
  if (known.has(uri)) return known.get(uri)!;
  const r = await run(["version", "--daemon"], { timeoutMs: 15_000 });
  const v = r.code === 0 ? parseDaemonVersion(r.stdout) : null;
  if (v !== null) known.set(uri, v);
  return v;
}

/** The same from a one-off virsh, for callers that cannot wait (listing); never spawns a session daemon. */
export function daemonVersionSync(uri: string): number | null {
  if (known.has(uri)) return known.get(uri)!;
  const r = spawnSync("virsh", ["-q", "-c", uri, "version", "--daemon"], {
    encoding: "utf8",
    timeout: 10_000,
    env: { ...process.env, LC_ALL: "C", LIBVIRT_AUTOSTART: "0" },
  });
  const v = r.status === 0 ? parseDaemonVersion(r.stdout ?? "") : null;
  if (v !== null) known.set(uri, v);
  return v;
}

/** Why a session daemon of `version` cannot run `vfsd` for us, or null when it can. */
export function sessionVirtiofsProblem(version: number | null, vfsd: Virtiofsd | null): string | null {
  if (version === null) return "hotmount could not ask the session libvirt daemon its version (virsh version --daemon)";
  if (version < SESSION_VIRTIOFS_SINCE) {
    return `libvirt ${formatVersion(version)} runs virtiofsd only for qemu:///system domains, not qemu:///session (libvirt 10 and later run it unprivileged)`;
  }
  if (!vfsd) return "virtiofsd is not installed on the host";
  if (vfsd.flavour !== "rust") return "an unprivileged virtiofsd (qemu:///session) must be the Rust one; this host has QEMU's C virtiofsd, which needs root";
  for (const tool of ["newuidmap", "newgidmap"]) {
    if (!Bun.which(tool)) return `${tool} is not installed (package uidmap): the Rust virtiofsd maps the user's ids into its user namespace with it`;
  }
  return null;
}

export interface IdMapEntry {
  start: number;
  target: number;
  count: number;
}
export interface IdMap {
  uid: IdMapEntry[];
  gid: IdMapEntry[];
}

function nameOf(file: string, id: number): string | null {
  try {
    for (const line of readFileSync(file, "utf8").split("\n")) {
      const f = line.split(":");
      if (f.length >= 3 && Number(f[2]) === id && f[2] !== "") return f[0]!;
    }
  } catch {}
  return null;
}

/** The first /etc/subuid or /etc/subgid range ("name:start:count" or "id:start:count") of any of `who`. */
export function subRange(text: string, who: (string | number | null)[]): { start: number; count: number } | null {
  const keys = new Set(who.filter((w) => w !== null).map(String));
  for (const line of text.split("\n")) {
    const [owner, start, count] = line.trim().split(":");
    if (!owner || start === undefined || count === undefined || !keys.has(owner)) continue;
    const s = Number(start);
    const c = Number(count);
    if (Number.isInteger(s) && Number.isInteger(c) && c > 0) return { start: s, count: c };
  }
  return null;
}

function read(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

/**
 * The <idmap> for this process's user: itself as 0, then its subordinate range (if any) from 1.
 * A /etc/subgid range is looked up by group (as libvirt does) or by user (as newgidmap checks it).
 */
export function userIdMap(uid = process.geteuid?.() ?? 0, gid = process.getegid?.() ?? 0, etc = "/etc"): IdMap {
  const map = (id: number, range: { start: number; count: number } | null): IdMapEntry[] => [
    { start: 0, target: id, count: 1 },
    ...(range ? [{ start: 1, target: range.start, count: range.count }] : []),
  ];
  const user = nameOf(join(etc, "passwd"), uid);
  return {
    uid: map(uid, subRange(read(join(etc, "subuid")), [user, uid])),
    gid: map(gid, subRange(read(join(etc, "subgid")), [nameOf(join(etc, "group"), gid), gid, user, uid])),
  };
}
