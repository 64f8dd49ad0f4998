// The agent's activity API from the client side: extend a timed grant, follow the event stream
// (GET /v1/events, JSON lines), and read the audit log (a file, so it needs no agent).
import { existsSync, readdirSync } from "node:fs";
import { Event, Mount, type HistoryRecord } from "../agent/api.ts";
import { readHistory } from "../agent/audit-log.ts";
import { type ErrorJson, HotmountError } from "../core/errors.ts";
import { instancePaths, instancesDir } from "../core/paths.ts";
import { AgentClient } from "./agent-client.ts";
import { clientHeaders } from "./client-identity.ts";

async function errorOf(res: Response): Promise<HotmountError> {
  try {
    return HotmountError.fromJSON((await res.json()) as ErrorJson);
  } catch {
    return new HotmountError("INTERNAL", `agent answered HTTP ${res.status}`);
  }
}

function unreachable(instance: string, e: unknown): HotmountError {
  return new HotmountError("AGENT_UNREACHABLE", `the agent of "${instance}" does not answer`, {
    cause: e,
    hint: `If the VM runs but its agent died, \`hotmount vm start ${instance}\` restarts the agent.`,
  });
}

export async function extendGrant(instance: string, idOrMountPoint: string, forSeconds: number): Promise<Mount> {
  const c = new AgentClient(instance);
  await c.info(10_000); // a clear "not running" / "does not answer" before anything else
  let res: Response;
  try {
    res = await fetch(`http://hotmount/v1/mounts/${encodeURIComponent(idOrMountPoint)}/extend`, {
      method: "POST",
      unix: c.socket,
      headers: { ...clientHeaders(), "content-type": "application/json" },
      body: JSON.stringify({ forSeconds }),
      signal: AbortSignal.timeout(60_000),
    } as RequestInit);
  } catch (e) {
    throw unreachable(instance, e);
  }
  if (!res.ok) throw await errorOf(res);
  return Mount.parse(await res.json());
}

/**
 * Follows the event stream: calls `onEvent` for each event, in order, until `signal` aborts or
 * the agent ends the stream (AGENT_UNREACHABLE, with the --since to continue from). `since` replays the kept events after that seq.
 */
export async function watchEvents(
  instance: string,
  onEvent: (e: Event) => void,
  opts: { since?: number; signal?: AbortSignal; onOpen?: () => void } = {},
): Promise<void> {
  const c = new AgentClient(instance);
  await c.info(10_000);
  const q = opts.since === undefined ? "" : `?since=${opts.since}`;
  let res: Response;
  try {
    res = await fetch(`http://hotmount/v1/events${q}`, { unix: c.socket, headers: clientHeaders(), signal: opts.signal } as RequestInit);
  } catch (e) {
    if (opts.signal?.aborted) return;
    throw unreachable(instance, e);
  }
  if (!res.ok) throw await errorOf(res);
  opts.onOpen?.();
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let buf = "";
  let last: number | undefined;
  const ended = (cause?: unknown) =>
    new HotmountError("AGENT_UNREACHABLE", `the agent of "${instance}" ended the event stream (it stopped or died)`, {
      cause,
      hint: `When the VM runs again, \`hotmount mount watch ${instance}${last === undefined ? "" : ` --since ${last}`}\` continues where this one stopped.`,
    });
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        if (opts.signal?.aborted) return;
        throw ended();
      }
      buf += dec.decode(value, { stream: true });
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!line) continue;
        const ev = Event.parse(JSON.parse(line));
        last = ev.seq;
        onEvent(ev);
      }
    }
  } catch (e) {
    if (opts.signal?.aborted) return;
    throw e instanceof HotmountError ? e : ended(e);
  }
}

/** Audit records of one instance, or of every instance (merged by time), oldest first. */
export function history(instance?: string): HistoryRecord[] {
  if (instance) {
    if (!existsSync(instancePaths(instance).config)) {
      throw new HotmountError("INSTANCE_NOT_FOUND", `no instance named "${instance}"`, { hint: "See `hotmount vm list`." });
    }
    return readHistory(instance);
  }
  const dir = instancesDir();
  const names = existsSync(dir) ? readdirSync(dir).filter((n) => existsSync(instancePaths(n).config)) : [];
  return names.flatMap((n) => readHistory(n)).sort((a, b) => a.time.localeCompare(b.time));
}
