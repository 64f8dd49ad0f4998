// The agent's HTTP API on a unix socket (0600 in a 0700 directory). Errors are JSON
// {code, message, hint}; HotmountError carries its own HTTP status (one table in core/errors).
import { chmodSync, rmSync } from "node:fs";
import { asHotmountError, HotmountError } from "../core/errors.ts";
import type { DeviceInventory } from "../../drivers/driver.ts";
import type { Info } from "./api.ts";
import type { MountService } from "./mount-service.ts";

export const MAX_BODY_BYTES = 64 * 1024;

export interface AgentHandlers {
  info(): Promise<Info>;
  /** What the hypervisor has attached right now (devices, chardevs, backend pids). */
  inventory(): Promise<DeviceInventory>;
  mounts: MountService;
  stopVm(): Promise<void>;
}

function json(value: unknown, status = 200): Response {
  return new Response(JSON.stringify(value), { status, headers: { "content-type": "application/json" } });
}

export function errorResponse(e: unknown): Response {
  const err = asHotmountError(e);
  return json(err.toJSON(), err.httpStatus);
}

async function readJson(req: Request): Promise<unknown> {
  const len = Number(req.headers.get("content-length") ?? "0");
  if (len > MAX_BODY_BYTES) throw new HotmountError("INVALID_ARGUMENT", `request body is larger than ${MAX_BODY_BYTES} bytes`, { hint: "Send a small JSON object." });
  const text = await req.text();
  if (text.length > MAX_BODY_BYTES) throw new HotmountError("INVALID_ARGUMENT", `request body is larger than ${MAX_BODY_BYTES} bytes`, { hint: "Send a small JSON object." });
  try {
    return JSON.parse(text);
  } catch {
    throw new HotmountError("INVALID_ARGUMENT", "request body is not JSON", { hint: "Send {hostPath, mountPoint?, type?, writable?}." });
  }
}

export async function route(h: AgentHandlers, req: Request): Promise<Response> {
  const url = new URL(req.url);
  const path = url.pathname;
  if (path === "/v1/info" && req.method === "GET") return json(await h.info());
  if (path === "/v1/inventory" && req.method === "GET") return json(await h.inventory());
  if (path === "/v1/mounts" && req.method === "GET") return json({ mounts: h.mounts.list() });
  if (path === "/v1/mounts" && req.method === "POST") return json(await h.mounts.add(await readJson(req)), 201);
  if (path.startsWith("/v1/mounts/") && req.method === "DELETE") {
    const key = decodeURIComponent(path.slice("/v1/mounts/".length));
    const force = ["1", "true"].includes(url.searchParams.get("force") ?? "");
    await h.mounts.remove(key, { force });
    return new Response(null, { status: 204 });
  }
  if (path === "/v1/vm/stop" && req.method === "POST") {
    await h.stopVm();
    return new Response(null, { status: 204 });
  }
  throw new HotmountError("USAGE", `no such endpoint: ${req.method} ${path}`, { hint: "See docs/embedding.md for the API." });
}

export function serveAgent(socketPath: string, h: AgentHandlers) {
  rmSync(socketPath, { force: true });
  const server = Bun.serve({
    unix: socketPath,
    maxRequestBodySize: MAX_BODY_BYTES * 2,
    fetch: (req, srv) => {
      // A mount or remove may take longer than Bun's default idle timeout of 10 s (the guest
      // umount and device_del deadlines are 15 s each); the client has its own timeout.
      srv.timeout(req, 0);
      return route(h, req).catch(errorResponse);
    },
    error: errorResponse,
  });
  chmodSync(socketPath, 0o600);
  return server;
}
