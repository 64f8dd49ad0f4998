// One booted demo VM per test file, through the real CLI, and guest commands over SSH.
// Call useVm() at the top level of a test file: it boots in beforeAll and stops in afterAll.
import { afterAll, afterEach, beforeAll } from "bun:test";
import { readInstanceConfig } from "../../src/core/instance-config.ts";
import { GuestSsh, type ExecResult } from "../../src/guest-exec/ssh-client.ts";
import { hm, hmOk } from "./cli.ts";

export interface TestVm {
  name: string;
  /** Runs argv in the guest as root; never throws on a non-zero exit. */
  exec(argv: string[], timeoutMs?: number): Promise<ExecResult>;
  /** Like exec, but throws unless it exits 0; returns stdout. */
  run(argv: string[], timeoutMs?: number): Promise<string>;
  sh(script: string, timeoutMs?: number): Promise<string>;
  /** Drops the cached SSH connection (after the VM restarted). */
  reconnect(): void;
}

export function useVm(name: string, flags: string[] = [], env: Record<string, string> = {}): TestVm {
  let ssh: GuestSsh | null = null;
  beforeAll(async () => {
    await hmOk(["vm", "start", name, "--memory", "512M", ...flags], { env });
  }, 300_000);
  // A failed test must not leave its mounts to the next one.
  afterEach(async () => {
    const r = await hm(["mount", "list", name, "--json"]);
    if (r.code !== 0) return;
    for (const m of r.json() as { id: string }[]) await hm(["mount", "remove", name, m.id, "--force"]);
  }, 120_000);
  afterAll(async () => {
    ssh?.close();
    await hm(["vm", "stop", name], { env });
  }, 120_000);
  const conn = async () => {
    if (!ssh?.isConnected) ssh = await GuestSsh.connectWithRetry(readInstanceConfig(name).ssh, 60_000);
    return ssh;
  };
  const vm: TestVm = {
    name,
    async exec(argv, timeoutMs = 60_000) {
      return (await conn()).exec(argv, { timeoutMs });
    },
    async run(argv, timeoutMs = 60_000) {
      const r = await vm.exec(argv, timeoutMs);
      if (r.code !== 0) throw new Error(`guest ${argv.join(" ")} exited ${r.code}: ${r.stderr}`);
      return r.stdout;
    },
    sh(script, timeoutMs) {
      return vm.run(["sh", "-c", script], timeoutMs);
    },
    reconnect() {
      ssh?.close();
      ssh = null;
    },
  };
  return vm;
}
