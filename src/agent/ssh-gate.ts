// The agent's one SSH connection to the guest, and what it remembers when it cannot have one.
//
// Why: SSH is optional for most guests (qemu-guest-agent runs the guest commands; virtiofs and 9p
// need no SSH), but the watch helper, reverse-sshfs and guests without qemu-guest-agent need it.
// A libvirt domain usually has qemu-guest-agent and no login hotmount knows; asking for SSH there
// used to retry for 20 s on every `mount add` (the watch set-up). So:
//  - a login the guest refuses (or no address, or a key that cannot be read) ends the attempt at
//    once: retrying the same login cannot help;
//  - a failure is remembered per login: callers fail at once with it, without going to the guest,
//    until the hold runs out (60 s, doubling while the same login keeps failing, at most 15 min) or
//    the login changes (`hotmount libvirt ssh` rewrites instance.json, read again at every attempt);
//  - an unreachable SSH server (a guest still booting or rebooting) is retried for 20 s as before
//    by callers that need SSH now (guest commands, reverse-sshfs); only callers that can do
//    without (the watch: `patient: false`) take its remembered failure;
//  - the error names what to run to give hotmount a login (sshFix).
import { readInstanceConfig, type InstanceConfig } from "../core/instance-config.ts";
import { HotmountError } from "../core/errors.ts";
import type { Logger, SshInfo } from "../core/model.ts";
import { GuestSsh } from "../guest-exec/ssh-client.ts";
import { SESSION_URI, SYSTEM_URI } from "../util/virsh.ts";
import { sleep } from "../util/process.ts";

/** How long one attempt keeps retrying an SSH server that does not answer (yet). */
export const SSH_CONNECT_DEADLINE_MS = 20_000;
export const HOLD_MIN_MS = 60_000;
export const HOLD_MAX_MS = 15 * 60_000;

type Connect = (target: SshInfo, timeoutMs: number) => Promise<GuestSsh>;

interface Failure {
  login: string;
  at: number;
  holdMs: number;
  /** The guest answered and refused (or there is nothing to connect to): the same login cannot work. */
  definitive: boolean;
  error: HotmountError;
}

export interface SshGateOptions {
  /** The login now; by default instance.json read again (falls back to the agent's start config). */
  login?: () => SshInfo;
  connect?: Connect;
  now?: () => number;
  deadlineMs?: number;
}

const loginKey = (t: SshInfo) => `${t.user}@${t.host}:${t.port} ${t.identityFile}`;

/** What to run (or check) so that hotmount can log in to this instance's guest. */
export function sshFix(cfg: InstanceConfig): string {
  if (cfg.libvirt) {
    const dflt = process.getuid?.() === 0 ? SYSTEM_URI : SESSION_URI;
    const uri = cfg.libvirt.uri === dflt ? "" : ` -c ${cfg.libvirt.uri}`;
    return `set a login the guest accepts: \`hotmount libvirt ssh ${cfg.libvirt.domain}${uri} -u USER -i KEY\``;
  }
  if (cfg.external === "lima") return "hotmount logs in with the SSH settings Lima wrote for the instance: check that `limactl shell` into it works";
  return `the guest must run an SSH server that lets ${cfg.ssh.user} in with hotmount's key (${cfg.ssh.identityFile}); see \`hotmount vm logs ${cfg.name}\``;
}

/** True for a failure that trying the same login again cannot mend. */
function isDefinitive(e: unknown, t: SshInfo): boolean {
  if (!t.host || !t.port) return true;
  const cause = e instanceof Error ? (e.cause as { level?: string } | undefined) : undefined;
  if (cause?.level === "client-authentication") return true;
  const msg = e instanceof Error ? e.message : String(e);
  return /cannot read SSH key|Cannot parse privateKey|passphrase/i.test(msg);
}

export class SshGate {
  private ssh: GuestSsh | null = null;
  private connecting: Promise<GuestSsh> | null = null;
  private failure: Failure | null = null;
  private readonly login: () => SshInfo;
  private readonly connect: Connect;
  private readonly now: () => number;
  private readonly deadlineMs: number;

  constructor(
    private readonly cfg: InstanceConfig,
    private readonly log: Logger,
    opts: SshGateOptions = {},
  ) {
    this.login =
      opts.login ??
      (() => {
        try {
          return readInstanceConfig(cfg.name).ssh;
        } catch {
          return cfg.ssh;
        }
      });
    this.connect = opts.connect ?? ((t, timeoutMs) => GuestSsh.connect(t, { timeoutMs }));
    this.now = opts.now ?? Date.now;
    this.deadlineMs = opts.deadlineMs ?? SSH_CONNECT_DEADLINE_MS;
  }

  /**
   * The connection, made if need be. Fails at once with the remembered error while a failure of
   * the same login is held: a refused login for everyone, an unreachable server only for callers
   * that are not `patient` (a patient caller holds a refusal for at most HOLD_MIN_MS).
   */
  async get(opts: { patient?: boolean } = {}): Promise<GuestSsh> {
    const patient = opts.patient ?? true;
    if (this.ssh?.isConnected) return this.ssh;
    if (!this.connecting) {
      const target = this.login();
      const f = this.failure;
      if (f && f.login === loginKey(target) && (f.definitive || !patient)) {
        const hold = patient ? Math.min(f.holdMs, HOLD_MIN_MS) : f.holdMs;
        if (this.now() - f.at < hold) throw f.error;
      }
      this.connecting = this.attempt(target).finally(() => (this.connecting = null));
    }
    return this.connecting;
  }

  close(): void {
    this.ssh?.close();
    this.ssh = null;
  }

  private async attempt(target: SshInfo): Promise<GuestSsh> {
    const start = this.now();
    const end = start + this.deadlineMs;
    let last: unknown;
    let definitive = false;
    for (;;) {
      try {
        const ssh = await this.connect(target, Math.max(1000, Math.min(10_000, end - this.now())));
        if (this.failure) this.log.info("SSH login works again", { login: loginKey(target) });
        this.failure = null;
        this.ssh = ssh;
        return ssh;
      } catch (e) {
        last = e;
        definitive = isDefinitive(e, target);
        if (definitive || this.now() >= end) break;
        await sleep(250);
      }
    }
    const key = loginKey(target);
    const prev = this.failure?.login === key ? this.failure : null;
    const error = this.describe(target, last, definitive);
    this.failure = { login: key, at: this.now(), holdMs: prev ? Math.min(HOLD_MAX_MS, prev.holdMs * 2) : HOLD_MIN_MS, definitive, error };
    // Said once per login, not at every caller that meets the remembered failure.
    if (!prev) this.log.warn("no SSH login into the guest", { login: key, error: error.message, fix: error.hint });
    throw error;
  }

  private describe(t: SshInfo, e: unknown, definitive: boolean): HotmountError {
    const fix = sshFix(this.cfg);
    const hint = `${fix.charAt(0).toUpperCase()}${fix.slice(1)}.`;
    if (!t.host || !t.port)
      return new HotmountError("SSH_FAILED", "no SSH login into the guest: hotmount knows no SSH address for it", {
        hint: this.cfg.libvirt ? `libvirt reports none (no hostfwd to port 22, no address from the guest agent or a DHCP lease). ${hint}` : hint,
      });
    const inner = e instanceof Error && e.cause instanceof Error ? e.cause : e;
    const refused = (inner as { level?: string } | null)?.level === "client-authentication";
    const why = refused ? "the guest refused it" : inner instanceof Error ? inner.message : String(inner);
    const who = `${t.user}@${t.host}:${t.port} with ${t.identityFile}`;
    if (definitive) return new HotmountError("SSH_FAILED", `no SSH login into the guest (${who}): ${why}`, { cause: e, hint });
    return new HotmountError(
      "TIMEOUT",
      `no SSH login into the guest: its SSH server at ${t.host}:${t.port} did not answer within ${Math.round(this.deadlineMs / 1000)} s`,
      {
        cause: e,
        hint: `Is an SSH server running in the guest? ${hint}`,
      },
    );
  }
}
