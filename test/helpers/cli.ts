// Runs hotmount the way a user or an embedding app does: as a process. HOTMOUNT_BIN points the
// whole suite at a compiled binary instead of the source.
import { join } from "node:path";

const REPO = join(import.meta.dir, "..", "..");

export function hotmountArgv(): string[] {
  const bin = process.env.HOTMOUNT_BIN;
  return bin ? [bin] : ["bun", join(REPO, "src", "main.ts")];
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  json<T = any>(): T;
}

export async function hm(args: string[], opts: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  const p = Bun.spawn([...hotmountArgv(), ...args], {
    env: { ...process.env, ...opts.env },
    cwd: opts.cwd,
    stdout: "pipe",
    stderr: "pipe",
    stdin: "ignore",
  });
  const timer = setTimeout(() => p.kill("SIGKILL"), opts.timeoutMs ?? 240_000);
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  clearTimeout(timer);
  return {
    code,
    stdout,
    stderr,
    json() {
      try {
        return JSON.parse(stdout);
      } catch {
        throw new Error(`not JSON (exit ${code}): ${stdout}\n${stderr}`);
      }
    },
  };
}

/** Runs hotmount and fails loudly (with its stderr) unless it exits 0. */
export async function hmOk(args: string[], opts: Parameters<typeof hm>[1] = {}): Promise<RunResult> {
  const r = await hm(args, opts);
  if (r.code !== 0) throw new Error(`hotmount ${args.join(" ")} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r;
}
