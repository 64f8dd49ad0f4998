// The agent's HTTP API over a unix socket: request and response shapes, built from the shared
// vocabulary in core/model.ts and used by the agent, its client, the CLI's --json output and the
// TUI. Changing a shape here changes the contract (scripts/gen-schema.ts exports it).
import { z } from "zod";
import { ApiError, DiscoveredVm, MountState, Transport, VmStatus } from "../core/model.ts";

export { ApiError, InstanceState, MountState, parseTransport, SshInfo, Transport, TRANSPORTS, TransportAvailability } from "../core/model.ts";

export const MountRequest = z
  .object({
    hostPath: z.string().min(1).max(4096),
    mountPoint: z.string().min(1).max(4096).optional(),
    type: Transport.default("virtiofs"),
    writable: z.boolean().default(false),
    persist: z.boolean().default(false),
    /** Replay host changes in the guest so its file watchers fire (docs/watch.md). */
    watch: z.boolean().default(true),
  })
  .strict();
export type MountRequest = z.input<typeof MountRequest>;

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
  /** Set when watching is degraded (e.g. the host's inotify watch limit is reached). */
  watchWarning: z.string().optional(),
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
