// Everything the CLI prints: tables, JSON, progress (TTY only) and errors. Errors become exit
// codes here and only here (the code table lives in core/errors.ts).
import { asHotmountError, HotmountError } from "../core/errors.ts";

export function printJson(v: unknown): void {
  process.stdout.write(JSON.stringify(v, null, 2) + "\n");
}

export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(headers), ...rows.map(line)].join("\n") + "\n";
}

/** A list command's output: the items as JSON (--json), `empty` when there are none, else the table. */
export function listing<T>(items: T[], json: boolean | undefined, empty: string, headers: string[], row: (item: T) => string[]): string {
  if (json) return JSON.stringify(items, null, 2) + "\n";
  if (!items.length) return `${empty}\n`;
  return table(headers, items.map(row));
}

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/** A spinner with the step and elapsed time on stderr, only on a TTY; silent otherwise. */
export function progressReporter(enabled = process.stderr.isTTY === true) {
  const start = Date.now();
  let step = "";
  let frame = 0;
  let timer: ReturnType<typeof setInterval> | null = null;
  const draw = () => {
    if (Date.now() - start < 1000) return;
    const secs = ((Date.now() - start) / 1000).toFixed(1);
    process.stderr.write(`\r\x1b[2K${FRAMES[frame++ % FRAMES.length]} ${step} (${secs}s)`);
  };
  return {
    step(s: string) {
      step = s;
      if (!enabled) return;
      // Only steps slower than a second deserve a spinner: start drawing after 1 s.
      timer ??= setInterval(draw, 100);
    },
    done() {
      if (timer) clearInterval(timer);
      if (enabled && timer) process.stderr.write("\r\x1b[2K");
      timer = null;
    },
  };
}

export function formatError(e: HotmountError): string {
  const lines = [`error: ${e.message}`];
  if (e.hint) lines.push(...e.hint.split("\n").map((l, i) => (i === 0 ? `hint: ${l}` : `      ${l}`)));
  return lines.join("\n") + "\n";
}

/** The single exit path for failures: message + hint (or JSON with --json), and the code's exit status. */
export function fail(e: unknown, json: boolean): never {
  const err = asHotmountError(e);
  if (process.env.HOTMOUNT_DEBUG && err.cause) console.error(err.cause);
  if (json) process.stdout.write(JSON.stringify({ error: err.toJSON() }) + "\n");
  else process.stderr.write(formatError(err));
  process.exit(err.exitCode);
}

export type Reporter = ReturnType<typeof progressReporter>;

/**
 * The body of every command action: runs `body` with a progress reporter, and on any failure
 * clears the spinner and leaves through fail() (JSON on stdout when `json`, else message + hint).
 */
export async function runAction(json: boolean | undefined, body: (progress: Reporter) => Promise<unknown>): Promise<void> {
  const p = progressReporter();
  try {
    await body(p);
    p.done();
  } catch (e) {
    p.done();
    fail(e, !!json);
  }
}

/**
 * A command line handed on (QEMU's for `run` and `qemu-wrap`): a leading `--` is dropped, and
 * one that starts with an option is a mistyped hotmount option, since it must start with a program.
 */
export function commandLine(args: string[]): string[] {
  const argv = args[0] === "--" ? args.slice(1) : args;
  if (args[0] !== "--" && argv[0]?.startsWith("-")) {
    throw new HotmountError("USAGE", `unknown option '${argv[0]}'`, {
      hint: "See --help for hotmount's own options; the command line starts with its program (e.g. qemu-system-x86_64).",
    });
  }
  return argv;
}

/** A notice beside the command's output, on stderr, so stdout (and --json) stays the same. */
export function notice(line: string): void {
  process.stderr.write(`${process.stderr.isTTY ? "\r\x1b[2K" : ""}hotmount: ${line}\n`);
}
