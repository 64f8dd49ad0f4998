// The guest end of watching: one helper process per instance, started over the agent's SSH
// connection (guest-exec cannot stream stdin) and fed command lines on its stdin. The binary is
// copied into the guest once per content (its name carries its hash), to /run or, where /run is
// noexec (systemd), /var/lib. A helper that ends unasked fails the commands it had. It exits
// when its stdin closes: on close(), when the SSH connection drops, or when the agent dies.
import { createHash } from "node:crypto";
import type { ClientChannel } from "ssh2";
import { HotmountError } from "../../core/errors.ts";
import type { Logger } from "../../core/model.ts";
import { isTracing } from "../../core/trace.ts";
import type { GuestSsh } from "../../guest-exec/ssh-client.ts";
import { helperArch, helperBinary } from "./helper-binary.ts";
import { escapePath } from "./mount-watch.ts";

/**
 * Where the helper goes in the guest, first that lets it run: /run is a tmpfs (gone at reboot),
 * but systemd mounts it noexec, so /var/lib is the fallback.
 */
export const GUEST_HELPER_DIRS = ["/run/hotmount", "/var/lib/hotmount"];
const BATCH_TIMEOUT_MS = 600_000;
const UNWATCH_TIMEOUT_MS = 10_000;

async function channelDone(ch: ClientChannel, input?: Buffer): Promise<number> {
  return new Promise((resolve) => {
    let code = 255;
    ch.on("exit", (c: number | null) => (code = c ?? 255));
    ch.on("close", () => resolve(code));
    ch.resume();
    ch.stderr.resume();
    ch.end(input);
  });
}

/** Puts the helper into the guest (once per content, where it can run); returns its guest path. */
export async function installHelper(ssh: GuestSsh): Promise<string> {
  const arch = helperArch(await ssh.run(["uname", "-m"]));
  if (!arch)
    throw new HotmountError("GUEST_COMMAND_FAILED", "hotmount has no watch helper for this guest's architecture", { hint: "Add the mount with --no-watch." });
  const bin = await helperBinary(arch);
  const name = `watch-helper-${createHash("sha256").update(bin).digest("hex").slice(0, 12)}`;
  const tried: string[] = [];
  for (const dir of GUEST_HELPER_DIRS) {
    const path = `${dir}/${name}`;
    if ((await ssh.exec([path, "--probe"], { root: true })).code === 0) return path;
    const ch = await ssh.channel(["sh", "-c", 'mkdir -p "$1" && cat > "$2.tmp" && chmod 755 "$2.tmp" && mv -f "$2.tmp" "$2"', "sh", dir, path]);
    const code = await channelDone(ch, bin);
    if (code !== 0) {
      tried.push(`${dir}: copy failed (exit ${code})`);
      continue;
    }
    const probe = await ssh.exec([path, "--probe"], { root: true });
    if (probe.code === 0) return path;
    tried.push(`${dir}: ${probe.stderr.trim().split("\n").pop() || `exit ${probe.code}`}`);
    await ssh.exec(["rm", "-f", path], { root: true }).catch(() => {});
  }
  throw new HotmountError("GUEST_COMMAND_FAILED", `the watch helper cannot run in the guest (${tried.join("; ")})`, {
    hint: "Both folders are mounted noexec in the guest? Add the mount with --no-watch, or allow exec on /var/lib.",
  });
}

/** A mount point taken on: tracked (R), and with the event-kinds layer put on (K). */
const rootLines = (mountPoint: string, kinds: boolean) => [`R ${escapePath(mountPoint)}`, ...(kinds ? [`K ${escapePath(mountPoint)}`] : [])];

export class GuestHelper {
  private ch: ClientChannel | null = null;
  private starting: Promise<ClientChannel> | null = null;
  private buf = "";
  private seq = 0;
  /** Batches not answered yet: settled with null on their answer (or an asked-for end), else with why the helper ended. */
  private readonly waiting = new Map<string, (err: Error | null, guestMs?: number | null) => void>();
  /** The helper's own time on the batch it is about to answer ("T <us>" comes just before "P"). */
  private lastGuestMs: number | null = null;
  private stderrTail = "";
  /** Watched mount points; true: with the event-kinds layer (K). */
  private readonly roots = new Map<string, boolean>();
  /** Commands the guest skipped because a guest process made that change (echo). */
  skipped = 0;
  /** HOTMOUNT_TRACE=1: each skipped command is logged with its path. */
  private readonly tracing = isTracing();
  /**
   * Where the helper was found runnable over this SSH connection: the next start on it skips the
   * install's checks (two guest commands). A new connection (a guest reboot ends the old one, and
   * /run with it) or a helper that ended unasked checks again.
   */
  private installed: { ssh: GuestSsh; path: string } | null = null;

  constructor(
    private readonly ssh: () => Promise<GuestSsh>,
    private readonly log: Logger,
  ) {}

  get running(): boolean {
    return this.ch !== null;
  }

  async addRoot(mountPoint: string, kinds = false): Promise<void> {
    this.roots.set(mountPoint, kinds);
    await this.batch(rootLines(mountPoint, kinds));
  }

  /**
   * Stops replaying under a mount point, and waits (bounded: the guest may be going away with the
   * mount) until the helper holds nothing there. The helper reads ahead for this line, so
   * replays still queued for that mount are dropped rather than waited for.
   */
  async removeRoot(mountPoint: string): Promise<void> {
    this.roots.delete(mountPoint);
    if (!this.ch) return;
    await this.batch([`U ${escapePath(mountPoint)}`], UNWATCH_TIMEOUT_MS).catch((e) =>
      this.log.warn("the guest watch helper did not confirm it let go of a mount", { mountPoint, error: e instanceof Error ? e.message : String(e) }),
    );
  }

  /**
   * Sends lines and waits until the helper has carried out all of them; resolves with the
   * helper's own time on them in ms (null when it did not say), the rest being the way there and back.
   */
  async batch(lines: string[], timeoutMs = BATCH_TIMEOUT_MS): Promise<number | null> {
    const ch = await this.channel();
    const token = String(++this.seq);
    const done = new Promise<number | null>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(token);
        reject(new HotmountError("TIMEOUT", "the guest watch helper did not answer"));
      }, timeoutMs);
      this.waiting.set(token, (err, guestMs = null) => {
        clearTimeout(timer);
        if (err) reject(err);
        else resolve(guestMs);
      });
    });
    ch.write(lines.join("\n") + `\nP ${token}\n`);
    return done;
  }

  /** Ends the helper (its stdin closes) and waits for the channel to close. */
  async close(): Promise<void> {
    const ch = this.ch;
    this.ch = null;
    if (!ch) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 5000);
      ch.once("close", () => {
        clearTimeout(t);
        resolve();
      });
      ch.end();
    });
  }

  private channel(): Promise<ClientChannel> {
    if (this.ch) return Promise.resolve(this.ch);
    this.starting ??= this.start().finally(() => (this.starting = null));
    return this.starting;
  }

  private async start(): Promise<ClientChannel> {
    const ssh = await this.ssh();
    const path = this.installed?.ssh === ssh ? this.installed.path : await installHelper(ssh);
    this.installed = { ssh, path };
    const ch = await ssh.channel([path]);
    this.ch = ch;
    this.buf = "";
    ch.on("data", (d: Buffer) => this.onData(d));
    this.stderrTail = "";
    ch.stderr.on("data", (d: Buffer) => {
      this.stderrTail = (this.stderrTail + d.toString()).slice(-500);
      this.log.warn("guest watch helper", { stderr: d.toString().trim() });
    });
    ch.on("error", () => {});
    ch.on("close", () => {
      // Ended by close() (this.ch already cleared): its batches are done with. Ended by itself
      // (a crash, a guest that cannot run it, the connection dropped): they failed, and say why.
      const unasked = this.ch === ch;
      const why = unasked
        ? new HotmountError(
            "GUEST_COMMAND_FAILED",
            `the guest watch helper ended${this.stderrTail.trim() ? `: ${this.stderrTail.trim().replace(/\s+/g, " ")}` : ""}`,
          )
        : null;
      if (unasked) {
        this.ch = null;
        this.installed = null;
        this.log.warn("the guest watch helper ended; it is started again on the next change");
      }
      for (const w of this.waiting.values()) w(why);
      this.waiting.clear();
    });
    // A restarted helper tracks guest-made changes under every watched mount again.
    const again = [...this.roots].flatMap(([r, kinds]) => rootLines(r, kinds));
    if (again.length) ch.write(again.join("\n") + "\n");
    this.log.info("guest watch helper started", { path });
    return ch;
  }

  private onData(d: Buffer): void {
    this.buf += d.toString();
    let i: number;
    while ((i = this.buf.indexOf("\n")) >= 0) {
      const line = this.buf.slice(0, i);
      this.buf = this.buf.slice(i + 1);
      if (line.startsWith("T ")) {
        this.lastGuestMs = Number(line.slice(2)) / 1000;
      } else if (line.startsWith("P ")) {
        const w = this.waiting.get(line.slice(2));
        this.waiting.delete(line.slice(2));
        w?.(null, this.lastGuestMs);
        this.lastGuestMs = null;
      } else if (line.startsWith("S ")) {
        this.skipped++;
        if (this.tracing) this.log.info("watch echo skipped", { path: line.slice(2) });
      } else if (line.startsWith("E ")) {
        this.log.warn("guest watch helper", { error: line.slice(2) });
      }
    }
  }
}
