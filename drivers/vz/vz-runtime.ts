// vz.json: which process hosts an instance's VZ VM. A VZ VM cannot outlive the process that
// created it, so "is the VM alive?" from any other process (the CLI's `vm list`, a last-resort
// `vm stop`) is "is that process alive, and is it still the same program?".
import { readFileSync, rmSync } from "node:fs";
import { writeJsonAtomic } from "../../src/core/instance-config.ts";
import { isAlive } from "../../src/util/process.ts";
import { vzRuntimeFile } from "../../src/core/paths.ts";

export interface VzRuntime {
  pid: number;
  /** The host process's command line when it wrote this file: guards against a reused pid. */
  command: string;
  mac: string;
  guestIp: string | null;
  startedAt: string;
}

/** `ps -o command=` of a pid (full width: -ww), or null when no such process exists. ps, not /proc: macOS has none. */
export function processCommand(pid: number): string | null {
  const r = Bun.spawnSync(["ps", "-ww", "-p", String(pid), "-o", "command="], { stdout: "pipe", stderr: "ignore" });
  const out = r.stdout.toString().trim();
  return r.exitCode === 0 && out ? out : null;
}

export function readVzRuntime(name: string): VzRuntime | null {
  try {
    const j = JSON.parse(readFileSync(vzRuntimeFile(name), "utf8")) as Partial<VzRuntime>;
    if (typeof j.pid !== "number" || typeof j.command !== "string" || typeof j.mac !== "string") return null;
    return { pid: j.pid, command: j.command, mac: j.mac, guestIp: j.guestIp ?? null, startedAt: j.startedAt ?? "" };
  } catch {
    return null;
  }
}

export function writeVzRuntime(name: string, rt: VzRuntime): void {
  writeJsonAtomic(vzRuntimeFile(name), rt);
}

export function removeVzRuntime(name: string): void {
  rmSync(vzRuntimeFile(name), { force: true });
}

/** The host process of a runtime record, if it still runs the same command. */
export function hostAlive(rt: VzRuntime): boolean {
  return isAlive(rt.pid) && processCommand(rt.pid) === rt.command;
}
