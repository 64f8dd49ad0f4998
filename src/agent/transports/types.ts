// How the agent drives one transport. The mount service runs the common flow (mount point,
// journal, rollback, unmount first on remove); a transport supplies the three steps around it.
import type { DriverSession, Logger, Progress } from "../../../drivers/driver.ts";
import type { InstanceConfig } from "../../core/instance-config.ts";
import type { GuestExec } from "../../guest-exec/index.ts";
import type { GuestSsh } from "../../guest-exec/ssh-client.ts";
import type { MountRecord } from "../journal.ts";

export interface TransportContext {
  cfg: InstanceConfig;
  session: DriverSession;
  /** The SSH connection: reverse-sshfs needs its channels. */
  ssh(): Promise<GuestSsh>;
  /** Guest commands (mount, umount, /proc/mounts ...): qemu-guest-agent when it answers, else SSH. */
  guest(): Promise<GuestExec>;
  log: Logger;
  /** A transport reports a mount that broke on its own (backend died, SSH dropped). */
  markFailed(id: string, message: string, hint: string): void;
  /**
   * Queues `attempt` to bring a failed mount back (in turn with add/remove, retried a few times);
   * on success the mount is ready again. The mount service supplies it.
   */
  recover?(id: string, attempt: () => Promise<void>): void;
}

export interface MountTransport {
  /** Host side: device, server process. Undoes itself when it fails. */
  attach(rec: MountRecord, progress: Progress): Promise<void>;
  /**
   * Guest side: the mount itself; with `mkdir`, it makes the mount point first (a device
   * transport in the same guest command as the mount), else the mount point exists.
   */
  mount(rec: MountRecord, progress: Progress, opts?: { mkdir?: boolean }): Promise<void>;
  /** Host side teardown, once the guest has unmounted. Idempotent. */
  detach(rec: MountRecord, progress: Progress): Promise<void>;
  /**
   * Brings a mount whose session ended (SSH drop, agent restart) back: clears what is left of the
   * old one in the guest, then starts again. Only transports that can do that have it.
   */
  reestablish?(rec: MountRecord): Promise<void>;
}
