// Drives a program in a real terminal: a tmux session on a private server socket (so no one
// else's tmux is touched), one key per send-keys call, and plain-text screen captures.
import { spawnSync } from "bun";
import { rmSync } from "node:fs";

export function tmuxAvailable(): boolean {
  return Bun.which("tmux") !== null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Wraps `program` so the shell reports how it ended and what the tty looks like afterwards. */
export function withTerminalReport(program: string): string {
  return [
    "printf 'BEFORE-TUI\\n'",
    program,
    'echo "TUI-EXIT=$?"',
    // One line: the tty modes a restored terminal must have back (canonical input, echo).
    "echo \"STTY: $(stty -a | tr ' ;' '\\n\\n' | grep -xE -- '-?(icanon|echo)' | tr '\\n' ' ')\"",
    "exec sleep 600",
  ].join("; ");
}

export class TmuxSession {
  readonly socket = `hm-ui-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  readonly name = "tui";
  private socketPath: string | null = null;

  constructor(
    readonly cols: number,
    readonly rows: number,
    readonly keyDelayMs = 80,
  ) {}

  private tmux(...args: string[]): string {
    const r = spawnSync(["tmux", "-L", this.socket, "-f", "/dev/null", ...args], { stdout: "pipe", stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`tmux ${args.join(" ")}: ${r.stderr.toString()}`);
    return r.stdout.toString();
  }

  /** Starts `command` under bash in a detached session of the given size. */
  start(command: string, cwd: string, env: Record<string, string> = {}): void {
    const envArgs = Object.entries(env).flatMap(([k, v]) => ["-e", `${k}=${v}`]);
    this.tmux(
      "new-session",
      "-d",
      "-s",
      this.name,
      "-x",
      String(this.cols),
      "-y",
      String(this.rows),
      "-c",
      cwd,
      ...envArgs,
      "bash",
      "--norc",
      "--noprofile",
      "-c",
      command,
    );
    this.socketPath = this.display("#{socket_path}");
  }

  /** One key, as tmux names it (j, Enter, Escape, Tab, Down, C-c, Space). */
  async key(k: string): Promise<void> {
    this.tmux("send-keys", "-t", this.name, k);
    await sleep(this.keyDelayMs);
  }

  /** Types text one character per send-keys call: Ink reads a multi-character write as a paste. */
  async type(text: string): Promise<void> {
    for (const ch of text) {
      this.tmux("send-keys", "-t", this.name, "-l", ch);
      await sleep(this.keyDelayMs);
    }
  }

  capture(): string {
    return this.tmux("capture-pane", "-p", "-t", this.name);
  }

  display(format: string): string {
    return this.tmux("display-message", "-p", "-t", this.name, format).trim();
  }

  resize(cols: number, rows: number): void {
    this.tmux("resize-window", "-t", this.name, "-x", String(cols), "-y", String(rows));
  }

  /** The pid of the program the pane's shell is running (the TUI), if any. */
  foregroundPid(): number | null {
    const shell = this.display("#{pane_pid}");
    const r = spawnSync(["pgrep", "-P", shell], { stdout: "pipe" });
    const pid = Number(r.stdout.toString().trim().split("\n")[0]);
    return Number.isFinite(pid) && pid > 0 ? pid : null;
  }

  /** Waits until the screen matches; the error carries the last screen to show what was there. */
  async waitFor(what: string | RegExp | ((screen: string) => boolean), timeoutMs = 15_000): Promise<string> {
    const test = typeof what === "function" ? what : (s: string) => (typeof what === "string" ? s.includes(what) : what.test(s));
    const until = Date.now() + timeoutMs;
    let screen = "";
    while (Date.now() < until) {
      screen = this.capture();
      if (test(screen)) return screen;
      await sleep(100);
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${String(what)}; screen:\n${screen}`);
  }

  kill(): void {
    try {
      this.tmux("kill-server");
    } catch {
      // Already gone.
    }
    // tmux leaves the socket file behind; it is ours, so tidy it.
    if (this.socketPath) rmSync(this.socketPath, { force: true });
  }
}

/** The instance name on the selected row of the instances pane (the first "│›" row). */
export function selectedInstanceRow(screen: string): string | null {
  const row = screen.split("\n").find((l) => l.startsWith("│›"));
  return row ? (row.slice(2).trim().split(/\s+/)[0] ?? null) : null;
}

/** Presses j until the instances pane's selection is `name`. */
export async function selectInstance(t: TmuxSession, name: string, max = 50): Promise<void> {
  await t.waitFor((s) => selectedInstanceRow(s) !== null);
  for (let i = 0; i < max; i++) {
    if (selectedInstanceRow(t.capture()) === name) return;
    await t.key("j");
    await sleep(100);
  }
  throw new Error(`instance ${name} not found in the TUI:\n${t.capture()}`);
}

/** Checks the terminal was handed back as it was: main screen, cursor shown, cooked tty. */
export async function expectRestored(t: TmuxSession, exitCode: number): Promise<string> {
  const screen = await t.waitFor(`TUI-EXIT=${exitCode}`);
  const problems: string[] = [];
  if (!screen.includes("BEFORE-TUI")) problems.push("the shell's earlier output is gone (alternate screen not left?)");
  if (t.display("#{alternate_on}") !== "0") problems.push("still on the alternate screen");
  if (t.display("#{cursor_flag}") !== "1") problems.push("cursor still hidden");
  const stty = (await t.waitFor("STTY:")).split("\n").find((l) => l.startsWith("STTY:")) ?? "";
  if (!/(^|\s)icanon(\s|$)/.test(stty.slice(5)) || !/(^|\s)echo(\s|$)/.test(stty.slice(5))) problems.push(`tty not restored: ${stty}`);
  if (/[╭│╰]/.test(screen)) problems.push("TUI frame left on the main screen");
  if (problems.length > 0) throw new Error(`terminal not restored: ${problems.join("; ")}\n${screen}`);
  return screen;
}
