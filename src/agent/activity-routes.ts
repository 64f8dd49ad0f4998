// The agent API's activity endpoints: GET /v1/events (JSON lines, `?since=SEQ` replays), POST
// /v1/mounts/{id}/extend, and the audit wrapper around add and remove that records who asked.
// Who: the client states uid, pid and command line in the x-hotmount-client header. Bun's server
// does not expose the socket's peer credentials (SO_PEERCRED), so the header is recorded as
// stated (source "header"); the socket's 0600 mode already limits callers to the owner (and root).
import { HotmountError } from "../core/errors.ts";
import { ExtendRequest, type HistoryAction, type Mount } from "./api.ts";
import { identityFromHeader } from "./audit-log.ts";
import { json, readJson, type AgentHandlers } from "./http.ts";
import { toMount, type MountRecord } from "./journal.ts";

export const CLIENT_HEADER = "x-hotmount-client";

function noActivity(): HotmountError {
  return new HotmountError("UNSUPPORTED", "this agent keeps no event stream", {
    hint: "Restart the agent with this hotmount version: hotmount vm start NAME.",
  });
}

/** GET /v1/events: the stream from `?since=SEQ` on. */
export async function eventStream(h: AgentHandlers, url: URL): Promise<Response> {
  if (!h.activity) throw noActivity();
  const hub = h.activity.events;
  const since = hub.parseSince(url.searchParams.get("since"));
  return new Response(hub.stream(since), { status: 200, headers: { "content-type": "application/x-ndjson", "cache-control": "no-store" } });
}

/** POST /v1/mounts/{key}/extend with {forSeconds}. */
export async function extendMount(h: AgentHandlers, req: Request, key: string): Promise<Response> {
  const parsed = ExtendRequest.safeParse(await readJson(req));
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new HotmountError("INVALID_ARGUMENT", `invalid extend request: ${first?.path.join(".") || "body"}: ${first?.message}`, {
      hint: "Send {forSeconds} with a whole number of seconds from 1 to 31622400 (366 days).",
    });
  }
  return json(await audited(h, req, "extend", h.mounts.find(key) ?? { mountPoint: key }, () => h.mounts.extend(key, parsed.data.forSeconds)));
}
/** Runs an add, remove or extend and appends its outcome, with who asked, to the audit log. */
export async function audited<T>(h: AgentHandlers, req: Request, action: HistoryAction, subject: unknown, fn: () => Promise<T>): Promise<T> {
  const who = identityFromHeader(req.headers.get(CLIENT_HEADER));
  const about = (v: unknown): Partial<Mount> | undefined => {
    if (!v || typeof v !== "object") return undefined;
    const o = v as Partial<MountRecord>;
    return "createdDir" in o ? toMount(o as MountRecord) : (o as Partial<Mount>);
  };
  try {
    const out = await fn();
    h.activity?.audit.record(action, who, about(out) ?? about(subject));
    return out;
  } catch (e) {
    h.activity?.audit.record(action, who, about(subject), { error: e });
    throw e;
  }
}
