// What every agent endpoint shares: the handlers the server is given, JSON responses and errors
// ({code, message, hint}, the HTTP status from core/errors' one table), the bounded body reader
// and the check of a mount named in the URL. Routes (routes.ts) and the activity endpoints
// (activity-routes.ts) both build on it, so neither imports the other's file back.
import { asHotmountError, HotmountError } from "../core/errors.ts";
import type { DeviceInventory } from "../../drivers/driver.ts";
import type { Activity } from "./activity.ts";
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

export function json(value: unknown, status = 200): Response {
  return new Response(JSON.stringify(value), { status, headers: { "content-type": "application/json" } });
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

/** The id or guest path in /v1/mounts/{key}, checked before it names anything. */
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
