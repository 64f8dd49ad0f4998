// Small process helpers shared by drivers and the agent: liveness, bounded waits, log tails.
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function isAlive(pid: number | null | undefined): boolean {
  if (!pid || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie still answers kill(0); it is not alive for us.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return true; // no /proc (macOS): trust kill(0)
  }
}

export function cmdlineOf(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8")
      .split("\0")
      .filter((s) => s.length > 0);
  } catch {
    return [];
  }
}

export function readPidFile(path: string): number | null {
  try {
    const n = Number.parseInt(readFileSync(path, "utf8").trim(), 10);
    return Number.isFinite(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

/** Polls until `pred` is true or the deadline passes; returns whether it became true. */
export async function waitUntil(pred: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 50): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await pred()) return true;
    if (Date.now() >= end) return false;
    await sleep(everyMs);
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone (or the bound passes). */
export async function terminate(pid: number, graceMs = 3000): Promise<boolean> {
  if (!isAlive(pid)) return true;
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    return true;
  }
  if (await waitUntil(() => !isAlive(pid), graceMs)) return true;
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    return true;
  }
  return waitUntil(() => !isAlive(pid), 3000);
}

export function tailFile(path: string, lines = 15): string {
  if (!existsSync(path)) return "";
  const all = readFileSync(path, "utf8").trimEnd().split("\n");
  return all.slice(-lines).join("\n");
}

export function removeQuietly(...paths: string[]): void {
  for (const p of paths) rmSync(p, { force: true, recursive: true });
}

/** A free TCP port on loopback. Another process may take it before we do; callers retry. */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Processes whose argv contains `needle` (Linux /proc scan); used to find our orphans. */
export function findProcesses(match: (argv: string[]) => boolean): number[] {
  const out: number[] = [];
  let entries: string[] = [];
  try {
    entries = readdirSync("/proc");
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    if (pid === process.pid) continue;
    const argv = cmdlineOf(pid);
    if (argv.length && match(argv) && isAlive(pid)) out.push(pid);
  }
  return out;
}
