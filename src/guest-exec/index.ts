// How the agent runs commands in the guest: over qemu-guest-agent's guest-exec when the guest
// runs it (argv goes to execve as is: no shell, no quoting, no sudo), else over SSH (argv joined
// by the one quoting function, `sudo -n` for a non-root user). Callers see one shape (types.ts).
// The carriers live beside this chooser: qga-client.ts speaks QGA's protocol and qga-exec.ts runs
// commands over it; ssh-client.ts is the SSH connection (reverse-sshfs also opens its channel on it).
import { existsSync } from "node:fs";
import type { InstanceConfig } from "../core/instance-config.ts";
import { instancePaths } from "../core/paths.ts";
import type { ExecOptions, ExecResult, GuestSsh } from "./ssh-client.ts";
import { qgaExecFor } from "./qga-exec.ts";
import type { GuestExec } from "./types.ts";
import { VirshQgaExec } from "./virsh-qga-exec.ts";

export type { ExecOptions, ExecResult } from "./ssh-client.ts";
export { checkExit, type GuestCommands, type GuestExec } from "./types.ts";

/** How long qemu-guest-agent may take to answer a ping before the agent uses SSH instead. */
export const QGA_PING_MS = 1000;

export class SshGuestExec implements GuestExec {
  readonly via = "ssh" as const;
  /** why: what made QGA unusable, for the log. */
  constructor(
    readonly ssh: GuestSsh,
    readonly why?: string,
  ) {}

  exec(argv: readonly string[], opts?: ExecOptions): Promise<ExecResult> {
    return this.ssh.exec(argv, opts);
  }

  run(argv: readonly string[], opts?: ExecOptions): Promise<string> {
    return this.ssh.run(argv, opts);
  }
}

/**
 * QGA when the instance has its channel (a libvirt domain: through libvirt's qemu-agent-command) and qemu-guest-agent answers a ping within `pingMs`;
 * SSH otherwise (a guest without qemu-ga, a hung or restarting one, a driver with no channel).
 * Asked per operation, so the choice follows the guest: a qemu-ga that comes back is used again.
 */
export async function guestExecFor(cfg: InstanceConfig, ssh: () => Promise<GuestSsh>, pingMs = QGA_PING_MS): Promise<GuestExec> {
  const sock = instancePaths(cfg.name).qgaSock;
  let why = "the VM has no qemu-guest-agent channel";
  if (cfg.libvirt) {
    // libvirt holds the channel; a virsh round trip costs more than a socket ping.
    const qga = new VirshQgaExec(cfg.libvirt.uri, cfg.libvirt.domain);
    const problem = await qga.probe(Math.max(pingMs, 3000));
    if (!problem) return qga;
    why = problem;
  } else if (existsSync(sock)) {
    const qga = qgaExecFor(sock);
    const problem = await qga.probe(pingMs);
    if (!problem) return qga;
    why = problem;
  }
  return new SshGuestExec(await ssh(), why);
}
