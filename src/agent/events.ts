// The agent's event stream (GET /v1/events): every event gets the next sequence number, is kept
// in a bounded ring in memory and appended to a rotated file (instancePaths().events), so a
// watcher that connects late, or after an agent restart, can ask for what it missed
// (`?since=SEQ`). Delivery is JSON lines over one long HTTP response.
import { HotmountError } from "../core/errors.ts";
import type { Event, EventType } from "./api.ts";
import { JsonlLog } from "./jsonl-log.ts";

/** Events kept for replay, in memory and (about) on disk. */
export const RING_SIZE = 2000;
/** A watcher this many events behind is cut off (it reconnects with ?since=). */
const MAX_BEHIND = 10_000;

type Fields = Omit<Event, "seq" | "time" | "type" | "instance">;
type Subscriber = { push(line: Uint8Array): void; close(): void };

const enc = new TextEncoder();
/** A blank line this often on every stream, so a dead client is noticed and proxies keep it open. */
const KEEPALIVE_MS = 30_000;

export class EventHub {
  private readonly ring: Event[] = [];
  private seq = 0;
  private readonly subs = new Set<Subscriber>();
  private readonly file: JsonlLog;
  private keepalive: ReturnType<typeof setInterval> | null = null;

  constructor(
    readonly instance: string,
    path: string,
  ) {
    this.file = new JsonlLog(path, 512 * 1024);
    for (const e of this.file.readAll() as Event[]) {
      if (typeof e?.seq !== "number" || e.seq <= this.seq) continue;
      this.seq = e.seq;
      this.ring.push(e);
    }
    this.ring.splice(0, Math.max(0, this.ring.length - RING_SIZE));
  }

  get lastSeq(): number {
    return this.seq;
  }

  emit(type: EventType, fields: Fields = {}): Event {
    const ev: Event = { seq: ++this.seq, time: new Date().toISOString(), type, instance: this.instance, ...fields };
    this.ring.push(ev);
    if (this.ring.length > RING_SIZE) this.ring.shift();
    try {
      this.file.append(ev);
    } catch {
      // The stream still works from memory; a full disk must not stop a mount operation.
    }
    const line = enc.encode(JSON.stringify(ev) + "\n");
    for (const s of this.subs) this.send(s, line);
    return ev;
  }

  /** A watcher that is gone (its stream closed under us) is dropped; it never fails an emit. */
  private send(s: Subscriber, line: Uint8Array): void {
    try {
      s.push(line);
    } catch {
      this.subs.delete(s);
    }
  }

  /** Checks a `since` query value: a whole number from 0 to the last sequence number. */
  parseSince(raw: string | null): number | null {
    if (raw === null) return null;
    const shown = JSON.stringify(raw.length > 40 ? `${raw.slice(0, 40)}...` : raw);
    if (!/^\d{1,15}$/.test(raw)) {
      throw new HotmountError("INVALID_ARGUMENT", `since must be a whole number of 0 or more, not ${shown}`, {
        hint: "Pass the seq of the last event you saw: GET /v1/events?since=42 (0 replays everything kept).",
      });
    }
    const n = Number(raw);
    if (n > this.seq) {
      throw new HotmountError("INVALID_ARGUMENT", `since ${n} is ahead of the last event (${this.seq})`, {
        hint: `Pass as since a seq you received from this instance's agent, at most ${this.seq}.`,
      });
    }
    return n;
  }

  /** A JSON-lines stream: the kept events after `since` (if given), then every new one. */
  stream(since: number | null): ReadableStream<Uint8Array> {
    let sub: Subscriber | null = null;
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        // A blank line at once: the response (and its headers) leave now, so the client knows it
        // is subscribed before anything happens. Readers skip blank lines (also the keep-alives).
        controller.enqueue(enc.encode("\n"));
        if (since !== null) {
          const first = this.ring[0]?.seq ?? this.seq + 1;
          if (since < first - 1) {
            const gap = {
              seq: first - 1,
              time: new Date().toISOString(),
              type: "replay-gap",
              instance: this.instance,
              message: `events ${since + 1} to ${first - 1} are no longer kept`,
            };
            controller.enqueue(enc.encode(JSON.stringify(gap) + "\n"));
          }
          for (const e of this.ring) if (e.seq > since) controller.enqueue(enc.encode(JSON.stringify(e) + "\n"));
        }
        sub = {
          push: (line) => {
            if ((controller.desiredSize ?? 0) < -MAX_BEHIND) {
              this.subs.delete(sub!);
              controller.close();
              return;
            }
            controller.enqueue(line);
          },
          close: () => {
            try {
              controller.close();
            } catch {
              // already closed by the reader
            }
          },
        };
        this.subs.add(sub);
        this.keepalive ??= setInterval(() => {
          for (const s of this.subs) this.send(s, enc.encode("\n"));
        }, KEEPALIVE_MS);
        this.keepalive.unref?.();
      },
      cancel: () => {
        if (sub) this.subs.delete(sub);
      },
    });
  }

  /** Ends every open stream (agent exit), so watchers see the end rather than a hang. */
  closeAll(): void {
    if (this.keepalive) clearInterval(this.keepalive);
    this.keepalive = null;
    for (const s of this.subs) s.close();
    this.subs.clear();
  }
}
