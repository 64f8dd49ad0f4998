// An append-only JSON-lines file that never grows without bound: when the next line would take
// it past `maxBytes`, the file becomes `<path>.1` (replacing the older one) and a new file
// starts. So at most two files, about 2 × maxBytes, are ever kept. Used by the audit log and
// by the event ring's on-disk copy.
import { appendFileSync, existsSync, readFileSync, renameSync, statSync } from "node:fs";

export const DEFAULT_MAX_BYTES = 1024 * 1024;

export class JsonlLog {
  private size: number;

  constructor(
    readonly path: string,
    readonly maxBytes = DEFAULT_MAX_BYTES,
  ) {
    this.size = existsSync(path) ? statSync(path).size : 0;
  }

  get rotatedPath(): string {
    return `${this.path}.1`;
  }

  append(value: unknown): void {
    const line = JSON.stringify(value) + "\n";
    const n = Buffer.byteLength(line);
    if (this.size > 0 && this.size + n > this.maxBytes) {
      renameSync(this.path, this.rotatedPath);
      this.size = 0;
    }
    appendFileSync(this.path, line, { mode: 0o600 });
    this.size += n;
  }

  /** Every kept line, oldest first (the rotated file, then the current one); torn lines are skipped. */
  readAll(): unknown[] {
    return [...readLines(this.rotatedPath), ...readLines(this.path)];
  }
}

function readLines(path: string): unknown[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return [];
  }
  const out: unknown[] = [];
  for (const line of text.split("\n")) {
    if (!line) continue;
    try {
      out.push(JSON.parse(line));
    } catch {
      // A line cut short by a crash mid-write: the rest of the file is still good.
    }
  }
  return out;
}
