// The hops of one watch-latency sample, from the agent's "watch flush" trace lines (HOTMOUNT_TRACE=1,
// src/agent/watch/mount-watch.ts): where the milliseconds between a host write and the guest
// watcher's event line go. Wall clocks of two processes on one host, so the hops are to the ms.
import { readFileSync } from "node:fs";
import { summary } from "./stats.ts";

export interface Hops {
  /** The write -> the agent's fs.watch callback (host inotify and the agent's event loop). */
  hostInotify: number;
  /** -> the flush (the quiet period, and a timer late under load). */
  coalescing: number;
  /** -> the batch written to the SSH channel (the agent's stats of the changed paths). */
  agentStats: number;
  /** The guest helper's own time on the batch (it reports it). */
  guestHelper: number;
  /** The rest of sent -> answered: the SSH channel there and back, and the helper's wake-up. */
  sshThereAndBack: number;
  /** The write -> the guest watcher's event line at the benchmark (over its own SSH connection). */
  total: number;
}

interface Flush {
  msg: string;
  eventAt: number;
  flushAt: number;
  sentAt: number;
  doneAt: number;
  guestMs: number;
  paths: string[];
}

/** Waits (at most 10 s) for the flush that carried `path` after `wall0`, logged from byte `from` on. */
export async function flushOf(log: string, from: number, path: string, wall0: number, total: number): Promise<Hops | null> {
  for (const end = Date.now() + 10_000; Date.now() < end; await Bun.sleep(50)) {
    for (const line of readFileSync(log, "utf8").slice(from).split("\n")) {
      if (!line.includes('"watch flush"')) continue;
      const f = JSON.parse(line) as Flush;
      if (f.eventAt < wall0 - 5 || !f.paths.includes(path)) continue;
      return {
        hostInotify: f.eventAt - wall0,
        coalescing: f.flushAt - f.eventAt,
        agentStats: f.sentAt - f.flushAt,
        guestHelper: f.guestMs,
        sshThereAndBack: f.doneAt - f.sentAt - f.guestMs,
        total,
      };
    }
  }
  return null;
}

/** p50/p95 of each hop over the samples. */
export function hopSummary(hops: Hops[]): Record<string, ReturnType<typeof summary>> {
  if (!hops.length) return {};
  return Object.fromEntries(Object.keys(hops[0]!).map((k) => [k, summary(hops.map((h) => h[k as keyof Hops]))]));
}
