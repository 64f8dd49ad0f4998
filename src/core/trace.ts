// Step timings of one agent operation (mount add, mount remove), on when the agent runs with
// HOTMOUNT_TRACE=1: where the milliseconds go (guest commands, device, guest mount, replay
// set-up), logged as one "timings" line per operation for scripts/bench/control-plane. The
// operation's own progress messages are the step names; off, each call is one check.
import { AsyncLocalStorage } from "node:async_hooks";
import type { Logger } from "./model.ts";

interface Mark {
  step: string;
  at: number;
  guestN: number;
  guestMs: number;
}

interface Trace {
  op: string;
  t0: number;
  marks: Mark[];
  guestN: number;
  guestMs: number;
}

export interface TraceStep {
  step: string;
  ms: number;
  /** Guest commands (and QGA pings) that ended in this step, and their summed time. */
  guestCmds: number;
  guestMs: number;
}

const store = new AsyncLocalStorage<Trace>();
let sink: Logger | null = null;

/** Turns tracing on for this process (the agent, when HOTMOUNT_TRACE=1). */
export function enableTrace(log: Logger): void {
  sink = log;
}

/** Whether tracing is on in this process (other trace lines, such as the watch's flushes, follow it). */
export const isTracing = (): boolean => sink !== null;

/** Runs fn as one traced operation; the first step is named `first` until a progress message names one. */
export function traced<T>(op: string, first: string, fn: () => Promise<T>): Promise<T> {
  if (!sink) return fn();
  const t: Trace = { op, t0: performance.now(), marks: [], guestN: 0, guestMs: 0 };
  t.marks.push({ step: first, at: t.t0, guestN: 0, guestMs: 0 });
  // One clock reading for the total and the last step, so the steps add up to the total.
  const done = (ok: boolean, end = performance.now()) => sink?.info("timings", { op, ok, totalMs: round(end - t.t0), steps: stepsOf(t, end) });
  return store.run(t, fn).then(
    (v) => (done(true), v),
    (e) => {
      done(false);
      throw e;
    },
  );
}

/** Starts a new step of the current operation (no-op outside one). */
export function traceStep(step: string): void {
  const t = store.getStore();
  if (t) t.marks.push({ step, at: performance.now(), guestN: t.guestN, guestMs: t.guestMs });
}

/** Counts one guest round trip of the current operation. */
export async function traceGuest<T>(p: () => Promise<T>): Promise<T> {
  const t = store.getStore();
  if (!t) return p();
  const t0 = performance.now();
  try {
    return await p();
  } finally {
    t.guestN++;
    t.guestMs += performance.now() - t0;
  }
}

const round = (ms: number) => Math.round(ms * 10) / 10;

function stepsOf(t: Trace, end: number): TraceStep[] {
  const closing: Mark = { step: "", at: end, guestN: t.guestN, guestMs: t.guestMs };
  return t.marks.map((m, i) => {
    const next = t.marks[i + 1] ?? closing;
    return { step: m.step, ms: round(next.at - m.at), guestCmds: next.guestN - m.guestN, guestMs: round(next.guestMs - m.guestMs) };
  });
}
