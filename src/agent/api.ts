// The agent's HTTP API over a unix socket: request and response shapes, built from the shared
// vocabulary in core/model.ts and used by the agent, its client, the CLI's --json output and the
// TUI. Changing a shape here changes the contract (scripts/gen-schema.ts exports it).
import { z } from "zod";
import { MAX_GRANT_SECONDS } from "../core/duration.ts";
import { ApiError, DiscoveredVm, MountState, Transport, VmStatus } from "../core/model.ts";

export { ApiError, InstanceState, MountState, parseTransport, SshInfo, Transport, TRANSPORTS, TransportAvailability } from "../core/model.ts";

/** At a grant's expiry, when a guest process holds the mount: wait (retry until free) or force (stop the holders). */
export const OnExpiry = z.enum(["wait", "force"]);
export type OnExpiry = z.infer<typeof OnExpiry>;

export const MountRequest = z
  .object({
    hostPath: z.string().min(1).max(4096),
    mountPoint: z.string().min(1).max(4096).optional(),
    type: z.union([Transport, z.literal("auto")]).default("virtiofs"),
    writable: z.boolean().default(false),
    persist: z.boolean().default(false),
    /** Replay host changes in the guest so its file watchers fire (docs/watch.md). */
    watch: z.boolean().default(true),
    /** With watch: host creates, deletes and renames reach guest watchers as those kinds, through a FUSE layer over the transport (docs/watch.md, "Event kinds"). */
    watchKinds: z.boolean().default(false),
    /** A timed grant: the mount is removed this many seconds after it is added. */
    forSeconds: z.number().int().min(1).max(MAX_GRANT_SECONDS).optional(),
    onExpiry: OnExpiry.optional(),
  })
  .strict();
export type MountRequest = z.input<typeof MountRequest>;

export const TransportChoice = z.object({
  requested: z.literal("auto"),
  chosen: Transport,
  /** The better transports that could not be used, best first, each with its reason. */
  skipped: z.array(z.object({ type: Transport, reason: z.string() })),
});
export type TransportChoice = z.infer<typeof TransportChoice>;

export const Mount = z.object({
  id: z.string(),
  instance: z.string(),
  hostPath: z.string(),
  mountPoint: z.string(),
  type: Transport,
  writable: z.boolean(),
  persist: z.boolean(),
  state: MountState,
  /** The device tag the guest mounts (virtiofs, 9p); absent for reverse-sshfs. */
  tag: z.string().optional(),
  /** The hot-plug slot (root port) the device sits on, when it uses one. */
  slot: z.string().optional(),
  createdAt: z.string(),
  error: ApiError.optional(),
  /** A virtiofs share configured at boot (`vm start --mount`), not hot-plugged: it cannot be removed while the VM runs. */
  static: z.boolean().optional(),
  /** Host changes are replayed in the guest so its file watchers fire (docs/watch.md); absent on records from before. */
  watch: z.boolean().optional(),
  /** Host creates, deletes and renames are shown to the guest as those kinds (`--watch=kinds`, docs/watch.md). */
  watchKinds: z.boolean().optional(),
  /** Set when watching is degraded (e.g. the host's inotify watch limit is reached). */
  watchWarning: z.string().optional(),
  /** A timed grant: when the agent removes it (ISO time). */
  expiresAt: z.string().optional(),
  /** What a timed grant does when it expires while busy. */
  onExpiry: OnExpiry.optional(),
  /** Set when the mount was asked for with type auto: what was chosen, and why the better ones were not. */
  transportChoice: TransportChoice.optional(),
});
export type Mount = z.infer<typeof Mount>;

export const Info = z.object({
  instance: z.string(),
  ...VmStatus.shape,
  agent: z.object({ pid: z.number().int(), version: z.string(), startedAt: z.string() }),
});
export type Info = z.infer<typeof Info>;

export const MountList = z.object({ mounts: z.array(Mount) });
export type MountList = z.infer<typeof MountList>;

/** One row of `vm list --json`: known with or without a running agent. */
export const InstanceSummary = DiscoveredVm;
export type InstanceSummary = z.infer<typeof InstanceSummary>;

/** Body of POST /v1/mounts/{id}/extend: push a timed grant's expiry later by this much. */
export const ExtendRequest = z.object({ forSeconds: z.number().int().min(1).max(MAX_GRANT_SECONDS) }).strict();
export type ExtendRequest = z.input<typeof ExtendRequest>;

/** Who asked: what the client says about itself (header x-hotmount-client), see docs/embedding.md. */
export const ClientIdentity = z.object({
  uid: z.number().int().optional(),
  pid: z.number().int().optional(),
  command: z.array(z.string()).optional(),
  /** "header": as the client stated it; "agent": the agent itself (expiry, reconcile). */
  source: z.enum(["header", "agent", "unknown"]),
});
export type ClientIdentity = z.infer<typeof ClientIdentity>;

export const EventType = z.enum([
  "agent-started",
  "mount-added",
  "mount-ready",
  "mount-failed",
  "mount-restored",
  "mount-removed",
  "mount-expired",
  "mount-extended",
  "expiry-waiting",
  "guest-rebooted",
  "replay-gap",
]);
export type EventType = z.infer<typeof EventType>;

/** One line of GET /v1/events (JSON lines) and of `hotmount mount watch --json`. */
export const Event = z.object({
  /** Increases by one per event, across agent restarts of the same instance. */
  seq: z.number().int().min(1),
  time: z.string(),
  type: EventType,
  instance: z.string(),
  mountId: z.string().optional(),
  mountPoint: z.string().optional(),
  /** The mount as it is after the event (absent once it is removed). */
  mount: Mount.optional(),
  message: z.string().optional(),
  error: ApiError.optional(),
});
export type Event = z.infer<typeof Event>;

export const HistoryAction = z.enum(["add", "remove", "expire", "extend", "fail", "restore", "reconcile"]);
export type HistoryAction = z.infer<typeof HistoryAction>;

/** One line of the audit log (`hotmount mount history --json` prints an array of them). */
export const HistoryRecord = z.object({
  time: z.string(),
  instance: z.string(),
  action: HistoryAction,
  outcome: z.enum(["ok", "error"]),
  who: ClientIdentity,
  mountId: z.string().optional(),
  mountPoint: z.string().optional(),
  hostPath: z.string().optional(),
  type: Transport.optional(),
  writable: z.boolean().optional(),
  expiresAt: z.string().optional(),
  message: z.string().optional(),
  error: ApiError.optional(),
});
export type HistoryRecord = z.infer<typeof HistoryRecord>;
