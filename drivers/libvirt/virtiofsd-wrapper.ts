// The virtiofsd that libvirt starts for one of our <filesystem> devices is a small script of ours
// (<binary path=…>), because libvirt 9 refuses <readonly/> for virtiofs and has no way to drop
// CAP_MKNOD. The script adds what our own VMs' virtiofsd gets (drivers/qemu/virtiofsd.ts):
// no device nodes (modcaps -mknod), and for a read-only share either the Rust virtiofsd's
// --readonly or, for the C one, a private mount namespace where the source is a read-only bind
// mount, so the host kernel refuses every write, guest root's included. The script also exports
// a marker (HOTMOUNT_LIBVIRT_FS=<domain uuid>/<mount id>) that its virtiofsd inherits, which is
// how inventory finds the process libvirt started.
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { quoteArg } from "../../src/core/shell-quote.ts";
import { instancePaths } from "../../src/core/paths.ts";
import { findProcesses, isAlive, terminate, waitUntil } from "../../src/util/process.ts";
import { findVirtiofsd, type Virtiofsd } from "../qemu/host-tools.ts";

const MARKER = "HOTMOUNT_LIBVIRT_FS";
const RO_SCRIPT = 'mount --bind -- "$1" "$1" && mount -o remount,bind,ro -- "$1" && shift && exec "$@"';
const VHOST_USER_DIRS = ["/etc/qemu/vhost-user", "/usr/share/qemu/vhost-user"];

/** The virtiofsd libvirt itself would run (QEMU's vhost-user descriptors), else the one on this host. */
export function libvirtVirtiofsd(): Virtiofsd | null {
  const found = findVirtiofsd();
  for (const dir of VHOST_USER_DIRS) {
    let names: string[] = [];
    try {
      names = readdirSync(dir)
        .filter((n) => n.endsWith(".json"))
        .sort();
    } catch {
      continue;
    }
    for (const n of names) {
      try {
        const d = JSON.parse(readFileSync(join(dir, n), "utf8")) as { type?: string; binary?: string };
        if (d.type === "fs" && d.binary && existsSync(d.binary)) {
          if (found?.path === d.binary) return found;
          const help = Bun.spawnSync([d.binary, "--help"], { stdout: "pipe", stderr: "pipe" });
          const rust = `${help.stdout}${help.stderr}`.includes("--shared-dir");
          return { path: d.binary, flavour: rust ? "rust" : "c", version: "" };
        }
      } catch {}
    }
  }
  return found;
}

export const wrapperPath = (instance: string, id: string) => join(instancePaths(instance).virtiofsdDir, `${id}.sh`);

export function wrapperScript(o: { virtiofsd: Virtiofsd; source: string; writable: boolean; marker: string; home: string }): string {
  const q = quoteArg;
  const head = [
    "#!/bin/sh",
    "# hotmount: the virtiofsd libvirt starts for one share (see drivers/libvirt/virtiofsd-wrapper.ts)",
    `export ${MARKER}=${q(o.marker)} HOTMOUNT_HOME=${q(o.home)}`,
  ];
  if (o.virtiofsd.flavour === "rust") {
    return [...head, `exec ${q(o.virtiofsd.path)} "$@" --modcaps=-mknod${o.writable ? "" : " --readonly"}`, ""].join("\n");
  }
  if (o.writable) return [...head, `exec ${q(o.virtiofsd.path)} "$@" -o modcaps=-mknod`, ""].join("\n");
  return [
    ...head,
    `exec unshare --mount --propagation private -- sh -c ${q(RO_SCRIPT)} hotmount-ro ${q(o.source)} ${q(o.virtiofsd.path)} "$@" -o modcaps=-mknod`,
    "",
  ].join("\n");
}

export function writeWrapper(instance: string, id: string, o: Parameters<typeof wrapperScript>[0]): string {
  const p = wrapperPath(instance, id);
  mkdirSync(instancePaths(instance).virtiofsdDir, { recursive: true, mode: 0o700 });
  writeFileSync(p, wrapperScript(o), { mode: 0o700 });
  chmodSync(p, 0o700);
  return p;
}

export function removeWrapper(instance: string, id: string): void {
  rmSync(wrapperPath(instance, id), { force: true });
}

function environ(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
  } catch {
    return [];
  }
}

/** virtiofsd processes libvirt started for this domain's shares, by mount id. */
export function markedVirtiofsd(uuid: string): { id: string; pid: number }[] {
  const prefix = `${MARKER}=${uuid}/`;
  const out: { id: string; pid: number }[] = [];
  for (const pid of findProcesses((argv) => argv.some((a) => a.includes("virtiofsd")))) {
    const m = environ(pid).find((e) => e.startsWith(prefix));
    if (m) out.push({ id: m.slice(prefix.length), pid });
  }
  return out;
}

/** Waits (bounded) for libvirt's virtiofsd of `id` to exit after the device left; ends it if it lingers. */
export async function reapVirtiofsd(uuid: string, id: string, graceMs = 5000): Promise<void> {
  // Found once (a scan reads every process's command line), then only watched: no new one starts for a detached device.
  const found = markedVirtiofsd(uuid)
    .filter((v) => v.id === id)
    .map((v) => v.pid);
  const pids = () => found.filter((pid) => isAlive(pid));
  if (await waitUntil(() => pids().length === 0, graceMs, 20)) return;
  for (const pid of pids()) await terminate(pid, 1000);
}
