// The watch service when the guest helper never answers (src/agent/watch/index.ts): a mount whose
// event-kinds layer hangs in the guest (as one did on systemd guests, where mounts are shared and
// the layer propagated onto its own backing folder) must not hold `mount remove` for the helper's
// 10-minute batch bound. stop() waits a bounded time, ends the helper, kills the layer process by
// its mount point, and the next helper is not asked to take that mount on again. The SSH side is
// a stand-in (the process edge): it records what the agent sends and never answers.
import { afterAll, expect, test } from "bun:test";
import { EventEmitter } from "node:events";
import { WatchService } from "../../src/agent/watch/index.ts";
import type { Logger } from "../../src/core/model.ts";
import type { GuestSsh } from "../../src/guest-exec/ssh-client.ts";

/** An SSH channel to a helper that reads its lines and never answers; it closes when its input ends. */
class SilentChannel extends EventEmitter {
  written = "";
  ended = false;
  readonly stderr = new EventEmitter();
  write(d: string | Buffer): boolean {
    this.written += d.toString();
    return true;
  }
  end(): this {
    this.ended = true;
    queueMicrotask(() => this.emit("close"));
    return this;
  }
}

const channels: SilentChannel[] = [];
const execs: string[][] = [];
const ssh = {
  isConnected: true,
  run: async (argv: readonly string[]) => (argv[0] === "uname" ? "x86_64\n" : ""),
  // The helper is already in the guest (its --probe passes); every other command succeeds.
  exec: async (argv: readonly string[]) => {
    execs.push([...argv]);
    return { code: 0, stdout: "", stderr: "" };
  },
  channel: async () => {
    const ch = new SilentChannel();
    channels.push(ch);
    return ch;
  },
  close() {},
} as unknown as GuestSsh;

const warnings: string[] = [];
const log: Logger = { info() {}, warn: (m) => void warnings.push(m), error() {} };
const svc = new WatchService(async () => ssh, log, { setup: 200, stop: 300 });
afterAll(() => svc.stopAll());

test("a layer that never comes up: remove waits a bounded time, ends the helper and the layer, and the mount is not taken on again", async () => {
  const t0 = performance.now();
  await svc.start({ id: "k", hostPath: "/nonexistent-host-dir", mountPoint: "/mnt/k", writable: true, kinds: true });
  expect(performance.now() - t0).toBeLessThan(1500);
  expect(channels.length).toBe(1);
  expect(channels[0]!.written).toContain("R /mnt/k\nK /mnt/k\n");
  expect(svc.isWatching("k")).toBe(false);

  const t1 = performance.now();
  await svc.stop("k");
  const took = performance.now() - t1;
  expect(took).toBeGreaterThanOrEqual(250);
  expect(took).toBeLessThan(1500);
  expect(channels[0]!.ended).toBe(true);
  expect(warnings).toContain("the guest watch helper did not take the mount on in time: it is ended");
  // The layer process of that mount point, and only it, is killed.
  const kill = execs.find((a) => a[0] === "sh" && a[2]?.includes("watch-helper --layer"));
  expect(kill?.slice(3)).toEqual(["sh", "/mnt/k"]);

  // The next watched mount starts a new helper, which is not asked for /mnt/k.
  await svc.start({ id: "b", hostPath: "/nonexistent-host-dir", mountPoint: "/mnt/b", writable: true });
  expect(channels.length).toBe(2);
  expect(channels[1]!.written).toContain("R /mnt/b\n");
  expect(channels[1]!.written).not.toContain("/mnt/k");
});
