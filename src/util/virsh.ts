// libvirt's own client, virsh, run with an argv array (never a shell string) and a bound. Both
// the libvirt driver and the guest-command runner go through it: hotmount never talks to a
// libvirt-managed QEMU's monitor itself, because libvirt owns it.
import { spawn } from "node:child_process";
import { HotmountError } from "../core/errors.ts";

export const SYSTEM_URI = "qemu:///system";
export const SESSION_URI = "qemu:///session";
const DEFAULT_TIMEOUT_MS = 30_000;

export interface VirshResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `virsh -c URI ARGS...`; resolves with the exit code, never throws on a non-zero exit.
 * LIBVIRT_AUTOSTART=0: looking (`vm list` as a non-root user) must not spawn a session libvirtd.
 */
export function virsh(uri: string, args: readonly string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<VirshResult> {
  return new Promise((resolve, reject) => {
    const child = spawn("virsh", ["-q", "-c", uri, ...args], {
      stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      env: { ...process.env, LC_ALL: "C", LIBVIRT_AUTOSTART: "0" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d: Buffer) => (stdout += d));
    child.stderr!.on("data", (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    child.on("error", (e) => {
      clearTimeout(timer);
      const missing = (e as NodeJS.ErrnoException).code === "ENOENT";
      reject(
        new HotmountError(
          missing ? "HOST_DEPENDENCY_MISSING" : "INTERNAL",
          missing ? "virsh (libvirt's client) is not installed" : `virsh failed: ${e.message}`,
          {
            hint: missing ? "Debian/Ubuntu: apt-get install libvirt-clients; Fedora: dnf install libvirt-client." : undefined,
          },
        ),
      );
    });
    child.on("close", (code, sig) => {
      clearTimeout(timer);
      resolve({ code: code ?? (sig ? 124 : 1), stdout, stderr: sig === "SIGKILL" && code === null ? `${stderr}(virsh timed out)` : stderr });
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}

/** virsh's own message without its "error: " prefixes, on one line. */
export function virshMessage(r: VirshResult): string {
  return (
    r.stderr
      .split("\n")
      .map((l) => l.replace(/^error:\s*/, "").trim())
      .filter(Boolean)
      .join(": ") || `virsh exited ${r.code}`
  );
}

/** Like virsh, but throws a HotmountError (code `code`) on a non-zero exit; returns stdout. */
export async function virshOk(
  uri: string,
  args: readonly string[],
  opts: { timeoutMs?: number; code?: "INTERNAL" | "UNSUPPORTED" | "GUEST_COMMAND_FAILED" | "INSTANCE_NOT_FOUND"; what?: string } = {},
): Promise<string> {
  const r = await virsh(uri, args, opts);
  if (r.code !== 0) {
    throw new HotmountError(opts.code ?? "INTERNAL", `${opts.what ?? `virsh ${args[0]}`} failed: ${virshMessage(r)}`, {
      details: { uri, args: [...args], stderr: r.stderr },
    });
  }
  return r.stdout;
}
