// The mount service's requests as the API sends them, checked and put in the agent's terms
// (absolute host path resolved, guest path normalized) before anything is queued.
import { HotmountError } from "../core/errors.ts";
import { normalizeGuestPath, resolveHostPath } from "../core/validate.ts";
import { type MountRequest, MountRequest as MountRequestSchema, type Transport, type TransportChoice } from "./api.ts";

/** A checked add request; `type` "auto" is still to be chosen (transport-choice.ts). */
export type AddRequest = MountRequest & { hostPath: string; mountPoint: string; type: Transport; writable: boolean; transportChoice?: TransportChoice };

/** The body of POST /v1/mounts, checked; `auto` says the transport is still to be chosen. */
export function parseAddRequest(body: unknown): { req: AddRequest; auto: boolean } {
  const parsed = MountRequestSchema.safeParse(body);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new HotmountError("INVALID_ARGUMENT", `invalid mount request: ${first?.path.join(".") || "body"}: ${first?.message}`, {
      hint: "Send {hostPath, mountPoint?, type?, writable?} as JSON; see docs/api.schema.json.",
    });
  }
  const req = parsed.data;
  if (!req.hostPath.startsWith("/"))
    throw new HotmountError("INVALID_ARGUMENT", `the host path ${req.hostPath} is not absolute`, {
      hint: "The API takes absolute host paths; the CLI resolves relative ones.",
    });
  // A persistent mount comes back at every vm start: an expired grant must not.
  if (req.persist && req.forSeconds)
    throw new HotmountError("INVALID_ARGUMENT", "a timed grant (--for) cannot also be persistent (--persist)", { hint: "Pass one of them." });
  const hostPath = resolveHostPath(req.hostPath);
  const mountPoint = normalizeGuestPath(req.mountPoint ?? hostPath);
  const auto = req.type === "auto";
  return { req: { ...req, type: req.type === "auto" ? "virtiofs" : req.type, hostPath, mountPoint }, auto };
}

export function mountNotFound(instance: string, key: string): HotmountError {
  return new HotmountError("MOUNT_NOT_FOUND", `no mount ${key} on instance "${instance}"`, { hint: `See \`hotmount mount list ${instance}\`.` });
}
