// QMP events, after qemu's python/qemu/qmp/events.py: each listener owns an unbounded
// queue, so a listener nobody reads can never hold up replies or other listeners.
import { QmpDisconnectedError, QmpTimeoutError } from "./errors.ts";

export interface QmpEvent<D = Record<string, unknown>> {
  event: string;
  data?: D;
  timestamp?: { seconds: number; microseconds: number };
}

export type EventFilter = (ev: QmpEvent) => boolean;

/** What waitForEvent needs from a client; QmpClient implements it. */
export interface EventSource {
  listen(names: string[] | "*", filter?: EventFilter): EventListener;
}

interface Waiter {
  resolve(ev: QmpEvent): void;
  reject(err: Error): void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

export class EventListener implements AsyncIterable<QmpEvent> {
  private readonly names: Set<string> | "*";
  private queue: QmpEvent[] = [];
  private waiters: Waiter[] = [];
  private ended: QmpDisconnectedError | undefined;

  constructor(
    names: string[] | "*",
    private readonly filter: EventFilter | undefined,
    private readonly detach: (l: EventListener) => void,
  ) {
    this.names = names === "*" ? "*" : new Set(names);
  }

  /** True if this listener wants `ev`; the client calls it for every event. */
  accepts(ev: QmpEvent): boolean {
    if (this.ended) return false;
    if (this.names !== "*" && !this.names.has(ev.event)) return false;
    return this.filter ? this.filter(ev) : true;
  }

  /** Hands an event to the oldest waiter, or queues it. Never blocks. */
  push(ev: QmpEvent): void {
    const w = this.waiters.shift();
    if (!w) {
      this.queue.push(ev);
      return;
    }
    if (w.timer) clearTimeout(w.timer);
    w.resolve(ev);
  }

  /** Events received but not yet read. */
  get pending(): number {
    return this.queue.length;
  }

  /**
   * The next event, oldest first. Rejects with QmpTimeoutError after `timeoutMs`
   * (no timeout if omitted) and with QmpDisconnectedError once the listener is closed
   * or the connection is gone and the queue is empty: queued events are still delivered.
   */
  next(timeoutMs?: number): Promise<QmpEvent> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.ended) return Promise.reject(this.ended);
    return new Promise<QmpEvent>((resolve, reject) => {
      const w: Waiter = { resolve, reject, timer: undefined };
      if (timeoutMs !== undefined) {
        w.timer = setTimeout(() => {
          this.waiters = this.waiters.filter((x) => x !== w);
          reject(new QmpTimeoutError(`a QMP event (${this.describe()})`, timeoutMs));
        }, timeoutMs);
      }
      this.waiters.push(w);
    });
  }

  /** Iterates until the listener is closed or the connection ends; never throws for those. */
  async *[Symbol.asyncIterator](): AsyncIterator<QmpEvent> {
    for (;;) {
      try {
        yield await this.next();
      } catch (e) {
        if (e instanceof QmpDisconnectedError) return;
        throw e;
      }
    }
  }

  /** Stops receiving; pending next() calls reject. Queued events stay readable. */
  close(): void {
    this.end(new QmpDisconnectedError("the event listener was closed"));
  }

  /** Called by the client when the connection ends. */
  end(reason: QmpDisconnectedError): void {
    if (this.ended) return;
    this.ended = reason;
    this.detach(this);
    for (const w of this.waiters.splice(0)) {
      if (w.timer) clearTimeout(w.timer);
      w.reject(reason);
    }
  }

  private describe(): string {
    return this.names === "*" ? "any" : [...this.names].join(", ");
  }
}

export interface WaitForEventOptions {
  /** Budget for the event, counted from the call (the trigger's own reply included). */
  timeoutMs: number;
}

/**
 * Runs `trigger` and returns the first `name` event matching `predicate`. The listener is
 * registered BEFORE the trigger runs, because QEMU may emit the event before (or in the
 * same read as) the command's reply. If the trigger throws, that error is thrown.
 */
export async function waitForEvent(
  source: EventSource,
  name: string,
  predicate: EventFilter,
  trigger: () => Promise<unknown>,
  opts: WaitForEventOptions,
): Promise<QmpEvent> {
  const started = Date.now();
  const listener = source.listen([name], predicate);
  try {
    await trigger();
    const left = Math.max(0, opts.timeoutMs - (Date.now() - started));
    return await listener.next(left);
  } finally {
    listener.close();
  }
}

/**
 * True for the DEVICE_DELETED event that means device `id` is gone. On virtio devices
 * QEMU 7.2 emits DEVICE_DELETED twice: first for the inner
 * `/machine/peripheral/<id>/virtio-backend` (path only, no `device`), then for the
 * device itself (`device: <id>`, path `/machine/peripheral/<id>`). Only the second matches,
 * so a caller never reuses the id while the proxy still exists.
 */
export function isDeviceDeleted(ev: QmpEvent, id: string): boolean {
  if (ev.event !== "DEVICE_DELETED") return false;
  const data = (ev.data ?? {}) as { device?: unknown; path?: unknown };
  return data.device === id || data.path === `/machine/peripheral/${id}`;
}
