// hotmount's QEMU wrapper for Lima. Lima runs $QEMU_SYSTEM_<ARCH> for its feature probes
// (`-M none -accel help`, `--version`, ...) and then for the VM, with -pidfile
// $LIMA_HOME/<instance>/qemu.pid and -name lima-<instance> (pkg/driver/qemu/qemu.go). The probes
// pass through untouched; the VM's argv gets hot-plug capacity (drivers/qemu/argv-rewrite.ts) and a
// marker that tells hotmount's Lima driver what this QEMU can do. Lima's VM must never fail to
// start because of hotmount: a conflicting argv is passed through unchanged and the marker says why.
import { chmodSync, existsSync, lstatSync, mkdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { HotmountError, isCode } from "../../src/core/errors.ts";
import { hotmountHome, instancePaths, shimDir } from "../../src/core/paths.ts";
import { joinArgv, quoteArg } from "../../src/core/shell-quote.ts";
import { isQemuProbe, parseOptString, splitQemuArgs, wrapQemuArgv } from "../qemu/argv-rewrite.ts";
import { hmNameFor } from "./lima-instance.ts";
import { prepareWrapDirs } from "../qemu/instance-dirs.ts";
import { writeLimaLink, writeWrapMarker, type WrapMarker } from "./wrap-marker.ts";

/** Lima's VM launch names its instance dir twice: -pidfile <dir>/<vmType>.pid and -name lima-<instance>. */
export function limaTargetOf(args: readonly string[]): { limaDir: string; limaName: string } | null {
  const opts = splitQemuArgs(args);
  const pidfile = opts.filter((o) => o.name === "pidfile").pop()?.value;
  const name = opts.filter((o) => o.name === "name").pop()?.value;
  if (!pidfile || !name || !pidfile.endsWith(".pid")) return null;
  const limaDir = dirname(pidfile);
  const limaName = basename(limaDir);
  return parseOptString(name, "guest").implied === `lima-${limaName}` ? { limaDir, limaName } : null;
}

export interface WrapOptions {
  slots: number;
  ninePSlots: number;
  /** The pid QEMU will run as (the shim's, which execs it). */
  pid: number;
  /** Refuse instead of passing a conflicting argv through. */
  strict: boolean;
}

export interface WrapOutcome {
  argv: string[];
  /** The hotmount instance the Lima VM maps to (null for a probe or a non-Lima command line). */
  hmName: string | null;
  /** What to tell Lima's log (the wrapper's stderr). */
  notes: string[];
  marker: WrapMarker | null;
}

export function wrapLimaLaunch(argv: string[], o: WrapOptions): WrapOutcome {
  const args = argv.slice(1);
  if (isQemuProbe(args)) return { argv, hmName: null, notes: [], marker: null };
  const target = limaTargetOf(args);
  if (!target) {
    const why = "this is not Lima's VM command line (no -pidfile <LIMA_HOME>/<instance>/qemu.pid with -name lima-<instance>)";
    if (o.strict) throw new HotmountError("USAGE", why, { hint: "For your own QEMU command lines use `hotmount run NAME -- qemu-system-x86_64 ...`." });
    return { argv, hmName: null, notes: [`${why}; running it unchanged`], marker: null };
  }
  const hmName = hmNameFor(target.limaName);
  const links = prepareWrapDirs(hmName, o.ninePSlots);
  // A new QEMU process: no hot mount of an earlier run exists in it.
  rmSync(instancePaths(hmName).journal, { force: true });
  writeLimaLink(hmName, { ...target, vmPid: o.pid });
  const base = { version: 1 as const, pid: o.pid, ...target, qmpSocket: instancePaths(hmName).qmpSock, wrappedAt: new Date().toISOString() };
  try {
    const r = wrapQemuArgv(argv, { slots: o.slots, ninePLinks: links, qmpSocket: base.qmpSocket, memfd: process.platform === "linux" });
    const marker: WrapMarker = {
      ...base,
      slots: o.slots,
      ninePSlots: o.ninePSlots,
      memory: r.memory,
      memoryMiB: r.memoryMiB,
      cpus: r.cpus,
      accel: r.accel,
      argv: r.argv,
    };
    writeWrapMarker(hmName, marker);
    const mem = {
      "memfd-added": "shared memfd RAM",
      "own-shared-backend": "the VM's own shared RAM",
      "numa-shared": "Lima's shared /dev/shm RAM",
      "not-shared": "no shared RAM (no memfd on this host)",
    }[r.memory];
    return {
      argv: r.argv,
      hmName,
      marker,
      notes: [
        `Lima instance "${target.limaName}" is hotmount instance "${hmName}": ${o.slots} hot-plug slots, ${o.ninePSlots} 9p slots, ${mem}, QMP ${base.qmpSocket}`,
      ],
    };
  } catch (e) {
    if (o.strict || !isCode(e, "UNSUPPORTED", "INVALID_ARGUMENT")) throw e;
    const marker: WrapMarker = {
      ...base,
      slots: 0,
      ninePSlots: 0,
      memory: "not-shared",
      memoryMiB: 0,
      cpus: 0,
      accel: null,
      argv,
      conflict: { message: e.message, hint: e.hint ?? "" },
    };
    writeWrapMarker(hmName, marker);
    return { argv, hmName, marker, notes: [`cannot add hot-plug capacity: ${e.message}; running Lima's command line unchanged`] };
  }
}

export interface ShimInstall {
  path: string;
  /** QEMU_SYSTEM_<ARCH> */
  envVar: string;
  qemu: string;
}

/**
 * Writes the executable Lima runs as QEMU. It must be one word (Lima runs the bare executable for
 * its probes), so it is a shell script: it asks hotmount for the rewritten argv, then execs QEMU in
 * its own process, so the pid Lima started, its signals and its inherited fds all reach QEMU.
 */
export function installShim(o: { dir?: string; qemu: string; qemuArch: string; slots: number; ninePSlots: number; self: string[] }): ShimInstall {
  const dir = o.dir ?? shimDir();
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const qemu = realpathSync(o.qemu);
  const path = join(dir, `qemu-system-${o.qemuArch}`);
  if (path === qemu) throw new HotmountError("INVALID_ARGUMENT", `${dir} holds the real QEMU`, { hint: "Pick another --dir for the wrapper." });
  const wrapArgs = [...o.self, "qemu-wrap", "--print-shell", "--slots", String(o.slots), "--9p-slots", String(o.ninePSlots)];
  const script = [
    "#!/bin/sh",
    `# hotmount's QEMU wrapper for Lima (QEMU_SYSTEM_${o.qemuArch.toUpperCase()}=${path}), written by \`hotmount qemu-wrap --install\`.`,
    "# Lima's probes pass through; its VM gets hot-plug capacity; QEMU is exec'd in this process.",
    `HOTMOUNT_HOME=${quoteArg(hotmountHome())}; export HOTMOUNT_HOME`,
    `args=$(${joinArgv(wrapArgs)} --exec-pid $$ -- ${quoteArg(qemu)} "$@") || exit $?`,
    'eval "set -- $args"',
    'exec "$@"',
    "",
  ].join("\n");
  rmSync(path, { force: true });
  writeFileSync(path, script, { mode: 0o755 });
  chmodSync(path, 0o755); // the umask may have dropped x bits
  // Lima looks for UEFI firmware and vhost-user JSON in <exe dir>/../share/qemu: point that at QEMU's.
  const share = join(dirname(dirname(qemu)), "share", "qemu");
  const ours = join(dirname(dir), "share", "qemu");
  if (existsSync(share) && !existsSync(ours) && !isSymlink(ours)) {
    mkdirSync(dirname(ours), { recursive: true });
    symlinkSync(share, ours);
  }
  return { path, envVar: `QEMU_SYSTEM_${o.qemuArch.toUpperCase()}`, qemu };
}

function isSymlink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}
