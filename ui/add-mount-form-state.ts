// State of the add-mount form. The guest path follows the host path until the user edits it,
// and the type select holds only the transports the instance can use right now.
import type { MountRequest } from "../src/agent/api.ts";
import type { Transport, TransportAvailability } from "../src/core/model.ts";
import { uiError, type ErrorView } from "./error-view.ts";
import { expandPath } from "./path-complete.ts";
import { applyEdit, textField, type TextEdit, type TextFieldState } from "./text-field-state.ts";
import { keysFor } from "./keymap.ts";

export const ADD_FIELDS = ["hostPath", "mountPoint", "type", "writable"] as const;
export type AddField = (typeof ADD_FIELDS)[number];

export interface AddMountState {
  instance: string;
  home: string;
  cwd: string;
  field: AddField;
  hostPath: TextFieldState;
  mountPoint: TextFieldState;
  /** True until the guest path is edited: it then mirrors the host path. */
  mountPointFollows: boolean;
  transports: TransportAvailability[];
  type: Transport | null;
  writable: boolean;
  /** Candidates of the last ambiguous Tab, shown under the host path. */
  completions: string[];
  /** Set when the last Tab found nothing, so the form can say so. */
  noMatch: boolean;
  error: ErrorView | null;
  submitting: boolean;
}

export type AddMountAction =
  | { type: "add/edit"; edit: TextEdit }
  | { type: "add/field"; delta: number }
  | { type: "add/cycle-type"; delta: number }
  | { type: "add/toggle-writable" }
  | { type: "add/completed"; from: string; value: string; candidates: string[] }
  | { type: "add/submitting" }
  | { type: "add/failed"; error: ErrorView };

export function offeredTypes(transports: TransportAvailability[]): Transport[] {
  return transports.filter((t) => t.available).map((t) => t.type);
}

export function createAddMountState(instance: string, transports: TransportAvailability[], home: string, cwd: string): AddMountState {
  return {
    instance,
    home,
    cwd,
    field: "hostPath",
    hostPath: textField(),
    mountPoint: textField(),
    mountPointFollows: true,
    transports,
    type: offeredTypes(transports)[0] ?? null,
    writable: false,
    completions: [],
    noMatch: false,
    error: null,
    submitting: false,
  };
}

/** The guest path a host path suggests: the same absolute path, without a trailing slash. */
export function defaultMountPoint(s: Pick<AddMountState, "hostPath" | "home" | "cwd">): string {
  const raw = s.hostPath.value.trim();
  if (raw === "") return "";
  const abs = expandPath(raw, s.home, s.cwd);
  return abs.length > 1 ? abs.replace(/\/+$/, "") : abs;
}

export function effectiveMountPoint(s: AddMountState): string {
  return s.mountPoint.value.trim() || defaultMountPoint(s);
}

function withHostPath(s: AddMountState, hostPath: TextFieldState): AddMountState {
  const next = { ...s, hostPath, completions: [], noMatch: false, error: null };
  return s.mountPointFollows ? { ...next, mountPoint: textField(defaultMountPoint(next)) } : next;
}

export function addMountReducer(s: AddMountState, a: AddMountAction): AddMountState {
  // Nothing changes while the request is out: the answer decides what happens next.
  if (s.submitting && a.type !== "add/failed") return s;
  switch (a.type) {
    case "add/edit":
      if (s.field === "hostPath") return withHostPath(s, applyEdit(s.hostPath, a.edit));
      if (s.field === "mountPoint") return { ...s, mountPoint: applyEdit(s.mountPoint, a.edit), mountPointFollows: false, error: null };
      return s;
    case "add/field": {
      const i = ADD_FIELDS.indexOf(s.field);
      const next = Math.min(ADD_FIELDS.length - 1, Math.max(0, i + a.delta));
      return { ...s, field: ADD_FIELDS[next]!, completions: [], noMatch: false };
    }
    case "add/cycle-type": {
      const offered = offeredTypes(s.transports);
      if (offered.length === 0) return s;
      const i = s.type === null ? 0 : offered.indexOf(s.type);
      const next = (((i + a.delta) % offered.length) + offered.length) % offered.length;
      return { ...s, type: offered[next]!, error: null };
    }
    case "add/toggle-writable":
      return { ...s, writable: !s.writable };
    case "add/completed": {
      // A completion for text the user has since changed would clobber the new typing.
      if (a.from !== s.hostPath.value) return s;
      const next = withHostPath(s, textField(a.value));
      return { ...next, completions: a.candidates, noMatch: a.value === a.from && a.candidates.length === 0 };
    }
    case "add/submitting":
      return { ...s, submitting: true, error: null };
    case "add/failed":
      return { ...s, submitting: false, error: a.error };
  }
}

/** Why the form cannot be sent yet, or null when it can. */
export function validateAddMount(s: AddMountState): ErrorView | null {
  if (s.hostPath.value.trim() === "")
    return uiError("Enter the host folder to mount.", `${keysFor("add-host", "complete")} completes a path; ~ is your home directory.`);
  const mp = effectiveMountPoint(s);
  if (!mp.startsWith("/")) return uiError(`The guest path must be absolute: ${mp}`, "Start it with /, for example /mnt/src.");
  if (s.type === null) {
    const why = s.transports.map((t) => `${t.type}: ${t.reason ?? "unavailable"}`).join("; ");
    return uiError("No transport is available for this instance.", why || undefined);
  }
  return null;
}

export function toMountRequest(s: AddMountState): MountRequest {
  const host = expandPath(s.hostPath.value.trim(), s.home, s.cwd);
  return {
    // Completion leaves a trailing "/"; the agent should see the folder's plain path.
    hostPath: host.length > 1 ? host.replace(/\/+$/, "") : host,
    mountPoint: effectiveMountPoint(s),
    type: s.type ?? "virtiofs",
    writable: s.writable,
  };
}
