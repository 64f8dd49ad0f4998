// The agent's SSH gate (src/agent/ssh-gate.ts) and the watch service's bounded set-up
// (src/agent/watch/index.ts), without a guest: a refused login is tried once and remembered until
// its hold runs out or the login changes; an unreachable server is retried, and only the watch
// takes its remembered failure; the error names the fix per driver; a watch whose login hangs or
// fails never holds its caller long, and says what to run in its warning.
import { expect, test } from "bun:test";
import { HOLD_MAX_MS, HOLD_MIN_MS, SshGate, sshFix } from "../../src/agent/ssh-gate.ts";
import { LOGIN_WAIT_MS, WatchService, warningOf } from "../../src/agent/watch/index.ts";
import type { InstanceConfig } from "../../src/core/instance-config.ts";
import { HotmountError } from "../../src/core/errors.ts";
import type { Logger, SshInfo } from "../../src/core/model.ts";
import type { GuestSsh } from "../../src/guest-exec/ssh-client.ts";

const quiet: Logger = { info() {}, warn() {}, error() {} };
const login: SshInfo = { host: "127.0.0.1", port: 2222, user: "root", identityFile: "/keys/id" };
const cfg = (over: Partial<InstanceConfig> = {}): InstanceConfig => ({
  name: "dom",
  driver: "libvirt",
  external: "libvirt",
  libvirt: { uri: process.getuid?.() === 0 ? "qemu:///system" : "qemu:///session", domain: "dom", uuid: "u" },
  memoryMiB: 512,
  cpus: 1,
  slots: 4,
  ninePSlots: 0,
  kernel: "",
  append: "",
  accel: "auto",
  ssh: login,
  staticMounts: [],
  persistentMounts: [],
  ...over,
});

/** What ssh2 raises when the server refuses every key, as GuestSsh.connect wraps it. */
function refused(t: SshInfo): HotmountError {
  const cause = Object.assign(new Error("All configured authentication methods failed"), { level: "client-authentication" });
  return new HotmountError("SSH_FAILED", `SSH to ${t.user}@${t.host}:${t.port} failed: ${cause.message}`, { cause });
}
function unreachable(t: SshInfo): HotmountError {
  const cause = Object.assign(new Error("connect ECONNREFUSED"), { level: "client-socket" });
  return new HotmountError("SSH_FAILED", `SSH to ${t.user}@${t.host}:${t.port} failed: ${cause.message}`, { cause });
}
const fakeSsh = () => ({ isConnected: true, close() {} }) as unknown as GuestSsh;

function rig(fail: (t: SshInfo) => Error | null, c = cfg()) {
  let now = 1_000_000;
  let current = { ...login };
  const calls: SshInfo[] = [];
  const gate = new SshGate(c, quiet, {
    login: () => current,
    now: () => now,
    deadlineMs: 600,
    connect: async (t) => {
      calls.push(t);
      now += 100; // an attempt takes a while

      const e = fail(t);
      if (e) throw e;
      return fakeSsh();
    },
  });
  return {
    gate,
    calls,
    advance: (ms: number) => (now += ms),
    setLogin: (l: Partial<SshInfo>) => (current = { ...current, ...l }),
  };
}

test("a refused login is tried once, remembered, and names the fix", async () => {
  const r = rig(refused);
  const e1 = await r.gate.get().catch((e) => e);
  expect(r.calls.length).toBe(1);
  expect(e1).toBeInstanceOf(HotmountError);
  expect(e1.message).toBe("no SSH login into the guest (root@127.0.0.1:2222 with /keys/id): the guest refused it");
  expect(e1.hint).toContain("`hotmount libvirt ssh dom -u USER -i KEY`");
  // Remembered: every caller fails at once, without going to the guest.
  expect(await r.gate.get().catch((e) => e)).toBe(e1);
  expect(await r.gate.get({ patient: false }).catch((e) => e)).toBe(e1);
  expect(r.calls.length).toBe(1);
});

test("the hold runs out (and doubles for the watch); a changed login is tried at once", async () => {
  const r = rig((t) => (t.identityFile === "/keys/good" ? null : refused(t)));
  await r.gate.get().catch(() => {});
  r.advance(HOLD_MIN_MS + 1);
  await r.gate.get({ patient: false }).catch(() => {});
  expect(r.calls.length).toBe(2);
  // Failed twice: the watch waits twice as long, a caller that needs SSH now no more than the minimum.
  r.advance(HOLD_MIN_MS + 1);
  await r.gate.get({ patient: false }).catch(() => {});
  expect(r.calls.length).toBe(2);
  await r.gate.get().catch(() => {});
  expect(r.calls.length).toBe(3);
  // `hotmount libvirt ssh` rewrote the login: tried at once, and it works.
  r.setLogin({ identityFile: "/keys/good" });
  const ssh = await r.gate.get({ patient: false });
  expect(r.calls.length).toBe(4);
  expect(await r.gate.get()).toBe(ssh);
  expect(r.calls.length).toBe(4);
  expect(HOLD_MAX_MS).toBeGreaterThan(HOLD_MIN_MS);
});

test("an unreachable server is retried until the deadline; only the watch takes the remembered failure", async () => {
  const r = rig(unreachable);
  const e = await r.gate.get().catch((x) => x);
  expect(r.calls.length).toBeGreaterThan(1);
  expect(e.code).toBe("TIMEOUT");
  expect(e.hint).toContain("hotmount libvirt ssh dom");
  const n = r.calls.length;
  expect(await r.gate.get({ patient: false }).catch((x) => x)).toBe(e);
  expect(r.calls.length).toBe(n);
  await r.gate.get().catch(() => {});
  expect(r.calls.length).toBeGreaterThan(n);
});

test("callers at the same time share one attempt; no address fails at once", async () => {
  const r = rig(() => null);
  const [a, b] = await Promise.all([r.gate.get(), r.gate.get({ patient: false })]);
  expect(a).toBe(b);
  expect(r.calls.length).toBe(1);
  const none = rig(() => new Error("getaddrinfo ENOTFOUND"));
  none.setLogin({ host: "", port: 0 });
  const e = await none.gate.get().catch((x) => x);
  expect(none.calls.length).toBe(1);
  expect(e.message).toContain("knows no SSH address");
});

test("the fix per driver", () => {
  expect(sshFix(cfg())).toBe("set a login the guest accepts: `hotmount libvirt ssh dom -u USER -i KEY`");
  expect(sshFix(cfg({ libvirt: { uri: "qemu+ssh://h/system", domain: "web", uuid: "u" } }))).toContain(
    "hotmount libvirt ssh web -c qemu+ssh://h/system -u USER -i KEY",
  );
  expect(sshFix(cfg({ driver: "qemu", external: undefined, libvirt: undefined }))).toContain("hotmount vm logs dom");
  expect(sshFix(cfg({ driver: "lima", external: "lima", libvirt: undefined }))).toContain("limactl shell");
});

test("the watch warning is one line with the fix", () => {
  const w = warningOf(
    new HotmountError("SSH_FAILED", "no SSH login into the guest (x): the guest refused it", {
      hint: "Set a login:\n`hotmount libvirt ssh d -u USER -i KEY`.",
    }),
  );
  expect(w).not.toContain("\n");
  expect(w).toContain("hotmount libvirt ssh d -u USER -i KEY");
  expect(w).toContain("--no-watch");
});

const target = (id: string) => ({ id, hostPath: "/nonexistent-host-dir", mountPoint: `/mnt/${id}`, writable: false });

test("a refused login: the watch fails at once and keeps a warning with the fix; stop clears it", async () => {
  const gate = rig(refused).gate;
  const svc = new WatchService(() => gate.get({ patient: false }), quiet);
  const t0 = performance.now();
  await svc.start(target("a"));
  await svc.start(target("b"));
  expect(performance.now() - t0).toBeLessThan(500);
  expect(svc.warning("a")).toContain("hotmount libvirt ssh dom -u USER -i KEY");
  expect(svc.warning("b")).toBe(svc.warning("a"));
  await svc.stop("a");
  expect(svc.warning("a")).toBeNull();
  await svc.stopAll();
});

test("a login that hangs holds start for LOGIN_WAIT_MS only; a stop meanwhile cancels the set-up", async () => {
  let fail!: (e: Error) => void;
  const hanging = new Promise<GuestSsh>((_, rej) => (fail = rej));
  const svc = new WatchService(() => hanging, quiet);
  const t0 = performance.now();
  await svc.start(target("slow"));
  const took = performance.now() - t0;
  expect(took).toBeGreaterThanOrEqual(LOGIN_WAIT_MS - 50);
  expect(took).toBeLessThan(LOGIN_WAIT_MS + 1000);
  expect(svc.warning("slow")).toBeNull();
  await svc.stop("slow");
  fail(new Error("gave up"));
  await Bun.sleep(10);
  // Cancelled: no warning for a mount that is gone.
  expect(svc.warning("slow")).toBeNull();
  expect(svc.isWatching("slow")).toBe(false);
  await svc.stopAll();
});
