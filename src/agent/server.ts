// The agent's HTTP API on a unix socket (0600 in a 0700 directory). Errors are JSON
// {code, message, hint}; HotmountError carries its own HTTP status (one table in core/errors).
import { chmodSync, rmSync } from "node:fs";
import { asHotmountError, HotmountError } from "../core/errors.ts";
import { buildInfo } from "../core/build-info.ts";
import { traced, traceStep } from "../core/trace.ts";
import { AGENT_VERSION_HEADER, API_HEADER, API_VERSION } from "../core/versions.ts";
import type { DeviceInventory } from "../../drivers/driver.ts";
import type { Activity } from "./activity.ts";
import { activityRoute, audited } from "./activity-routes.ts";
import type { Info } from "./api.ts";
import type { MountService } from "./mount-service.ts";

export const MAX_BODY_BYTES = 64 * 1024;

export interface AgentHandlers {
  info(): Promise<Info>;
  /** What the hypervisor has attached right now (devices, chardevs, backend pids). */
  inventory(): Promise<DeviceInventory>;
  mounts: MountService;
  stopVm(): Promise<void>;
  /** Event stream, audit log and grant timers (GET /v1/events, POST /v1/mounts/{id}/extend). */
  activity?: Activity;
}

function json(value: unknown, status = 200): Response {
  return new Response(JSON.stringify(value), { status, headers: { "content-type": "application/json" } });
}

/** Every response says which API and version the agent speaks (src/core/versions.ts). */
function versioned(res: Response): Response {
  res.headers.set(API_HEADER, String(API_VERSION));
  res.headers.set(AGENT_VERSION_HEADER, buildInfo().version);
  return res;
}

export function errorResponse(e: unknown): Response {
  const err = asHotmountError(e);
  return json(err.toJSON(), err.httpStatus);
}

function tooBig(): HotmountError {
  return new HotmountError("INVALID_ARGUMENT", `request body is larger than ${MAX_BODY_BYTES} bytes`, {
    hint: "Send a small JSON object: {hostPath, mountPoint?, type?, writable?}.",
  });
}

/**
 * Reads at most MAX_BODY_BYTES: a declared larger body is refused unread, a chunked one is cut
 * off at the limit, so a huge request costs the agent no memory. Text must be valid UTF-8: a
 * lossy decode would turn a bad byte into U+FFFD and mount a path nobody named.
 */
export async function readJson(req: Request): Promise<unknown> {
  if (Number(req.headers.get("content-length") ?? "0") > MAX_BODY_BYTES) throw tooBig();
  const chunks: Uint8Array[] = [];
  let n = 0;
  if (req.body) {
    const reader = req.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      n += value.byteLength;
      if (n > MAX_BODY_BYTES) {
        await reader.cancel().catch(() => {});
        throw tooBig();
      }
      chunks.push(value);
    }
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    throw new HotmountError("INVALID_ARGUMENT", "request body is not valid UTF-8", { hint: "Send JSON text encoded as UTF-8." });
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new HotmountError("INVALID_ARGUMENT", "request body is not JSON", { hint: "Send {hostPath, mountPoint?, type?, writable?}." });
  }
}

/** The id or guest path of DELETE /v1/mounts/{key}, checked before it names anything. */
export function mountKey(encoded: string): string {
  let key: string;
  try {
    key = decodeURIComponent(encoded);
  } catch {
    throw new HotmountError("INVALID_ARGUMENT", "the mount id in the URL is not valid percent-encoded UTF-8", {
      hint: "Percent-encode the mount id or guest path (encodeURIComponent).",
    });
  }
  if (!key) throw new HotmountError("USAGE", "no mount named: DELETE /v1/mounts/{id or guest path}", { hint: "See GET /v1/mounts for the ids." });
  if (/[\u0000-\u001f\u007f-\u009f]/.test(key) || !key.isWellFormed()) {
    throw new HotmountError("INVALID_ARGUMENT", "the mount id contains a control character or invalid Unicode", {
      hint: "Name a mount by its id (hm...) or its guest path; see GET /v1/mounts.",
    });
  }
  if (Buffer.byteLength(key) > 4096)
    throw new HotmountError("INVALID_ARGUMENT", "the mount id is longer than 4096 bytes", { hint: "Name a mount by its id (hm...) or its guest path." });
  return key;
}

function forceFlag(v: string | null): boolean {
  if (v === null || v === "" || v === "0" || v === "false") return false;
  if (v === "1" || v === "true") return true;
  throw new HotmountError("INVALID_ARGUMENT", `force must be 1, true, 0 or false, not ${JSON.stringify(v.slice(0, 40))}`, {
    hint: "DELETE /v1/mounts/{id}?force=1",
  });
}

const METHODS: Record<string, string[]> = {
  "/v1/info": ["GET"],
  "/v1/inventory": ["GET"],
  "/v1/mounts": ["GET", "POST"],
  "/v1/vm/stop": ["POST"],
  "/v1/events": ["GET"],
};

export async function route(h: AgentHandlers, req: Request): Promise<Response> {
  const url = new URL(req.url);
  const path = url.pathname;
  if (path === "/v1/info" && req.method === "GET") return json(await h.info());
  if (path === "/v1/inventory" && req.method === "GET") return json(await h.inventory());
  if (path === "/v1/mounts" && req.method === "GET") return json({ mounts: h.mounts.list() });
  const extra = await activityRoute(h, req, url);
  if (extra) return extra;
  if (path === "/v1/mounts" && req.method === "POST") {
    const body = await readJson(req);
    return json(await audited(h, req, "add", body, () => traced("add", "choosing the guest channel", () => h.mounts.add(body, traceStep))), 201);
  }
  if (path.startsWith("/v1/mounts/") && req.method === "DELETE") {
    const key = mountKey(path.slice("/v1/mounts/".length));
    const force = forceFlag(url.searchParams.get("force"));
    await audited(h, req, "remove", h.mounts.find(key) ?? { mountPoint: key }, () =>
      traced("remove", "stopping the watch", () => h.mounts.remove(key, { force }, traceStep)),
    );
    return new Response(null, { status: 204 });
  }
  if (path === "/v1/vm/stop" && req.method === "POST") {
    await h.stopVm();
    return new Response(null, { status: 204 });
  }
  // The path is percent-encoded (one line); cut it short so a huge URL makes a short message.
  const shown = path.length > 120 ? `${path.slice(0, 120)}...` : path;
  const allowed = METHODS[path] ?? (/^\/v1\/mounts\/.+\/extend$/.test(path) ? ["POST"] : path.startsWith("/v1/mounts/") ? ["DELETE"] : null);
  if (allowed) throw new HotmountError("USAGE", `${req.method} is not allowed on ${shown}`, { hint: `Use ${allowed.join(" or ")}; see docs/embedding.md.` });
  throw new HotmountError("USAGE", `no such endpoint: ${req.method} ${shown}`, { hint: "See docs/embedding.md for the API." });
}

export function serveAgent(socketPath: string, h: AgentHandlers) {
  rmSync(socketPath, { force: true });
  // The socket is born 0600 (no window before the chmod); its folder is 0700 as well.
  const umask = process.umask(0o077);
  try {
    const server = Bun.serve({
      unix: socketPath,
      // readJson enforces MAX_BODY_BYTES with a JSON error; Bun's own limit answers a bare 413.
      maxRequestBodySize: 2 ** 40,
      // A mount or remove may take longer than Bun's default idle timeout of 10 s (the guest
      // umount and device_del deadlines are 15 s each), and fetch retries a request whose
      // connection is cut, so the agent would run it twice. The client has its own timeout.
      // Bun 1.4 honours idleTimeout on unix sockets though its types omit it there, and
      // server.timeout(req, 0) does not lift the default (both checked).
      ...({ idleTimeout: 0 } as {}),
      fetch: (req) => route(h, req).catch(errorResponse).then(versioned),
      error: (e) => versioned(errorResponse(e)),
    });
    chmodSync(socketPath, 0o600);
    return server;
  } finally {
    process.umask(umask);
  }
}
