// GuestExec over qemu-guest-agent for a libvirt domain. libvirt holds the agent's channel, so
// commands go through it: `virsh qemu-agent-command DOMAIN '{"execute":"guest-exec",...}'` with
// the argv as a JSON array (execve in the guest: no shell, no quoting, no sudo), then
// guest-exec-status until the program has exited. In the agent these go through its one virsh
// shell per URI (util/virsh-shell.ts), not a virsh process each.
import { HotmountError } from "../core/errors.ts";
import type { ExecStatus } from "./qga-client.ts";
import type { ExecOptions, ExecResult } from "./ssh-client.ts";
import { sleep } from "../util/process.ts";
import { virshMessage } from "../util/virsh.ts";
import { virshRunner } from "../util/virsh-shell.ts";
import { checkExit, type GuestExec } from "./types.ts";

const decode = (b64?: string) => (b64 ? Buffer.from(b64, "base64").toString("utf8") : "");

export class VirshQgaExec implements GuestExec {
  readonly via = "qga" as const;
  private readonly virsh: ReturnType<typeof virshRunner>;

  constructor(
    readonly uri: string,
    readonly domain: string,
  ) {
    this.virsh = virshRunner(uri);
  }

  /** One agent command; `timeoutS` is libvirt's own wait for the agent's reply. */
  private async command<T>(execute: string, args: Record<string, unknown> | undefined, timeoutS: number): Promise<T> {
    const json = JSON.stringify(args ? { execute, arguments: args } : { execute });
    const r = await this.virsh(["qemu-agent-command", this.domain, "--timeout", String(Math.max(1, Math.ceil(timeoutS))), json], {
      timeoutMs: (timeoutS + 10) * 1000,
    });
    if (r.code !== 0) {
      const msg = virshMessage(r);
      throw new HotmountError("GUEST_COMMAND_FAILED", `qemu-guest-agent (through libvirt) failed on ${execute}: ${msg}`, {
        hint: "Is qemu-guest-agent running in the guest? Without it hotmount runs guest commands over SSH.",
        details: { qgaError: /Guest agent|agent is not/i.test(msg) ? undefined : msg, stderr: r.stderr },
      });
    }
    return (JSON.parse(r.stdout) as { return: T }).return;
  }

  /** Null when the agent answers a ping within timeoutMs; otherwise why not. */
  async probe(timeoutMs: number): Promise<string | null> {
    try {
      await this.command("guest-ping", undefined, Math.max(1, timeoutMs / 1000));
      return null;
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
  }

  async exec(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const timeoutMs = opts.timeoutMs ?? 30_000;
    const deadline = Date.now() + timeoutMs;
    const leftS = () => Math.max(1, (deadline - Date.now()) / 1000);
    let pid: number;
    try {
      ({ pid } = await this.command<{ pid: number }>("guest-exec", { path: argv[0], arg: argv.slice(1), "capture-output": true }, leftS()));
    } catch (e) {
      // The agent answered with an error (the program does not exist): as a shell would report it.
      if (e instanceof HotmountError && typeof e.details?.qgaError === "string") return { code: 127, stdout: "", stderr: e.details.qgaError };
      throw e;
    }
    for (let delay = 5; ; delay = Math.min(200, delay * 2)) {
      const st = await this.command<ExecStatus>("guest-exec-status", { pid }, leftS());
      if (st.exited) return { code: st.exitcode ?? 128 + (st.signal ?? 0), stdout: decode(st["out-data"]), stderr: decode(st["err-data"]) };
      if (Date.now() + delay >= deadline) break;
      await sleep(delay);
    }
    await this.command("guest-exec", { path: "kill", arg: ["-KILL", String(pid)] }, 2).catch(() => {});
    throw new HotmountError("TIMEOUT", `guest command timed out after ${timeoutMs} ms: ${argv[0]}`, { details: { argv } });
  }

  async run(argv: readonly string[], opts: ExecOptions = {}): Promise<string> {
    return checkExit(argv, await this.exec(argv, opts));
  }
}
