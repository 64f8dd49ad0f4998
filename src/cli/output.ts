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

export function age(iso: string, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}
