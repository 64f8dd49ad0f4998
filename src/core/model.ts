// The vocabulary every layer shares: transports, instance and mount states, SSH info, what a
// VM can take, a plugged device, and the logger and progress callbacks. It lives at the bottom
// (src/core/) so that drivers, the agent, the client, the CLI and the TUI all speak it without
// importing each other; src/agent/api.ts builds the HTTP request and response shapes from it.
import { z } from "zod";
import { ERROR_CODES } from "./errors.ts";

export const TRANSPORTS = ["virtiofs", "9p", "reverse-sshfs"] as const;
export const Transport = z.enum(TRANSPORTS);
export type Transport = z.infer<typeof Transport>;

/** Accepts Lima's short alias `sshfs` for reverse-sshfs. */
export function parseTransport(s: string): Transport | undefined {
  const t = s === "sshfs" ? "reverse-sshfs" : s;
  const r = Transport.safeParse(t);
  return r.success ? r.data : undefined;
}

/** Transports that put a device into the VM (reverse-sshfs needs none). */
export const DeviceTransport = z.enum(["virtiofs", "9p"]);
export type DeviceTransport = z.infer<typeof DeviceTransport>;

export const MountState = z.enum(["adding", "ready", "failed", "removing"]);
export type MountState = z.infer<typeof MountState>;

export const InstanceState = z.enum(["running", "stopped", "starting", "stopping", "broken"]);
export type InstanceState = z.infer<typeof InstanceState>;

export const TransportAvailability = z.object({
  type: Transport,
  available: z.boolean(),
  reason: z.string().optional(),
});
export type TransportAvailability = z.infer<typeof TransportAvailability>;

export const SshInfo = z.object({
  host: z.string(),
  port: z.number().int(),
  user: z.string(),
  identityFile: z.string(),
});
export type SshInfo = z.infer<typeof SshInfo>;

/** What a VM is right now, as the agent's /v1/info and `vm list --json` report it. */
export const VmStatus = z.object({
  driver: z.string(),
  state: InstanceState,
  pid: z.number().int().nullable(),
  accel: z.string().nullable(),
  ssh: SshInfo.nullable(),
  slots: z.object({ total: z.number().int(), used: z.number().int() }),
  transports: z.array(TransportAvailability),
});
export type VmStatus = z.infer<typeof VmStatus>;

/** One VM a driver found on the host that something else started (Lima, libvirt): a `vm list` row before any agent runs. */
export const DiscoveredVm = VmStatus.extend({ name: z.string(), mounts: z.number().int() });
export type DiscoveredVm = z.infer<typeof DiscoveredVm>;

/** A device the driver attached; the journal keeps it so that removal survives an agent restart. */
export const PluggedDevice = z.object({
  id: z.string(),
  type: DeviceTransport,
  /** What the guest passes to mount(8) as the source. */
  tag: z.string(),
  /** The hot-plug slot it sits on (e.g. a root port id). */
  slot: z.string(),
  /** Driver-private backend handle that must survive an agent restart (e.g. a 9p fsdev index). */
  backend: z.string().optional(),
});
export type PluggedDevice = z.infer<typeof PluggedDevice>;

const CODES = Object.keys(ERROR_CODES) as [keyof typeof ERROR_CODES, ...(keyof typeof ERROR_CODES)[]];
/** An error as it crosses the API and lands in a mount record: its code is one of the error table's. */
export const ApiError = z.object({
  code: z.enum(CODES),
  message: z.string(),
  hint: z.string().optional(),
  details: z.record(z.string(), z.unknown()).optional(),
});
export type ApiError = z.infer<typeof ApiError>;

/** Reports a step slower than a second; the CLI shows it on a TTY only. */
export type Progress = (step: string) => void;

export interface Logger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}
