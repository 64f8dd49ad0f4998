// Running host tools for the guest build: argv arrays only (no shell), errors as HotmountError.
import { HotmountError } from "../core/errors.ts";

export interface RunOptions {
  cwd?: string;
  /** Called with each stdout line as it arrives (progress); stdout is still returned. */
  onLine?: (line: string) => void;
  /** A file to feed as stdin. */
  stdinFile?: string;
  /** Write stdout to this file instead of returning it. */
  stdoutFile?: string;
}

/** Hints for the tools the build needs, when one is missing. */
const TOOL_HINTS: Record<string, string> = {
  "apt-get": "The demo guest is built from Debian packages: build it on a Debian or Ubuntu host.",
  "apt-cache": "The demo guest is built from Debian packages: build it on a Debian or Ubuntu host.",
  "dpkg-deb": "Install dpkg (Debian: it is always there; elsewhere the dpkg package).",
};

export async function run(argv: string[], opts: RunOptions = {}): Promise<string> {
  const tool = argv[0] ?? "";
  let proc;
  try {
    proc = Bun.spawn(argv, {
      cwd: opts.cwd,
      stdin: opts.stdinFile ? Bun.file(opts.stdinFile) : "ignore",
      stdout: opts.stdoutFile ? Bun.file(opts.stdoutFile) : "pipe",
      stderr: "pipe",
      env: { ...process.env, LC_ALL: "C" }, // apt's messages are parsed: keep them in English
    });
  } catch (e) {
    throw new HotmountError("HOST_DEPENDENCY_MISSING", `cannot run ${tool}`, {
      hint: TOOL_HINTS[tool.split("/").pop() ?? ""] ?? `Install ${tool}.`,
      cause: e,
    });
  }
  const stderrP = new Response(proc.stderr).text();
  let out = "";
  if (!opts.stdoutFile && proc.stdout instanceof ReadableStream) {
    const dec = new TextDecoder();
    let partial = "";
    for await (const chunk of proc.stdout) {
      const text = dec.decode(chunk, { stream: true });
      out += text;
      if (!opts.onLine) continue;
      const lines = (partial + text).split("\n");
      partial = lines.pop() ?? "";
      for (const l of lines) opts.onLine(l);
    }
    if (opts.onLine && partial) opts.onLine(partial);
  }
  const code = await proc.exited;
  const stderr = await stderrP;
  if (code !== 0) {
    throw new HotmountError("INTERNAL", `${argv.slice(0, 3).join(" ")} failed (exit ${code})`, {
      hint: stderr.trim().split("\n").slice(-5).join("\n") || undefined,
      details: { argv, stderr: stderr.slice(-4000) },
    });
  }
  return out;
}
