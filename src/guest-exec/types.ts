// The one shape of "run a command in the guest", whatever carries it (see index.ts).
import { HotmountError } from "../core/errors.ts";
import type { ExecOptions, ExecResult } from "./ssh-client.ts";

export type { ExecOptions, ExecResult } from "./ssh-client.ts";

export interface GuestExec {
  /** Runs argv in the guest; never throws on a non-zero exit. */
  exec(argv: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  /** Like exec, but throws GUEST_COMMAND_FAILED on a non-zero exit; returns stdout. */
  run(argv: readonly string[], opts?: ExecOptions): Promise<string>;
  readonly via: "qga" | "ssh";
  /** For SSH: what made qemu-guest-agent unusable (for the log). */
  readonly why?: string;
}

/** The commands guest-mount.ts needs: a GuestExec, or a bare GuestSsh (reverse-sshfs, which needs SSH for its channel anyway). */
export type GuestCommands = Pick<GuestExec, "exec" | "run">;

export function checkExit(argv: readonly string[], r: ExecResult): string {
  if (r.code !== 0) {
    const err = r.stderr.trim().split("\n").slice(-3).join(" | ") || `exit ${r.code}`;
    throw new HotmountError("GUEST_COMMAND_FAILED", `guest command ${argv[0]} failed: ${err}`, { details: { argv, code: r.code, stderr: r.stderr } });
  }
  return r.stdout;
}
