// The linux-arm64 binary, executed: cross-built by scripts/build.ts and run on this x86_64 host
// under qemu-user (qemu-aarch64-static from Debian's qemu-user-static, scripts/deps/arm.txt),
// so the arm64 build is not only compiled. Its glibc comes from Debian's arm64 libc6 and
// libgcc-s1, fetched by the same private apt state as the aarch64 demo guest (QEMU_LD_PREFIX).
// Skipped, saying why, on a host without qemu-aarch64-static; on an arm64 host it runs natively.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fetchDebs } from "../src/guest-image/apt.ts";
import { debCacheDir } from "../src/core/paths.ts";

const ROOT = join(import.meta.dir, "..");
const native = process.arch === "arm64";
const qemuUser = native ? null : Bun.which("qemu-aarch64-static");
const runnable = native || !!qemuUser;
if (!runnable) console.warn("arm64-binary: skipped: qemu-aarch64-static is missing (apt-get install qemu-user-static; scripts/deps/arm.txt)");

const dir = mkdtempSync(join(tmpdir(), "hm-arm64bin-"));
const bin = join(dir, "hotmount-linux-arm64");
const sysroot = join(dir, "sysroot");
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };

beforeAll(async () => {
  if (!runnable) return;
  const r = Bun.spawnSync(["bun", join(ROOT, "scripts/build.ts"), "--target", "linux-arm64", "--outdir", dir], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`build failed:\n${r.stdout}${r.stderr}`);
  if (native) return;
  mkdirSync(sysroot);
  for (const d of await fetchDebs(["libc6", "libgcc-s1"], debCacheDir(), () => {}, "aarch64")) {
    const x = Bun.spawnSync(["dpkg-deb", "-x", d.path, sysroot]);
    if (x.exitCode !== 0) throw new Error(`dpkg-deb -x ${d.path} failed`);
  }
}, 300_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[]) {
  const home = join(dir, "home");
  mkdirSync(home, { recursive: true });
  const r = Bun.spawnSync([...(qemuUser ? [qemuUser] : []), bin, ...args], {
    cwd: dir,
    // HOTMOUNT_ACCEL=tcg: under qemu-user the binary believes it runs on an arm64 host, so a KVM
    // probe (this host's /dev/kvm) would build and boot an aarch64 guest under x86 KVM: meaningless.
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: home,
      HOTMOUNT_HOME: join(home, ".hotmount"),
      QEMU_LD_PREFIX: sysroot,
      ...(native ? {} : { HOTMOUNT_ACCEL: "tcg" }),
    },
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

test.if(runnable)("hotmount-linux-arm64 version --json: the arm64 target, compiled", () => {
  const r = run(["version", "--json"]);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout)).toMatchObject({ version: pkg.version, target: "linux-arm64", compiled: true });
});

test.if(runnable)("hotmount-linux-arm64 doctor --json: every check runs; it finds qemu-system-aarch64 for its own guests", () => {
  const r = run(["doctor", "--json"]);
  const d = JSON.parse(r.stdout) as { ok: boolean; checks: { name: string; ok: boolean; detail: string }[] };
  const names = d.checks.map((c) => c.name);
  for (const n of ["qemu", "kvm", "virtiofsd", "sftp-server", "memfd"]) expect(names).toContain(n);
  const qemu = d.checks.find((c) => c.name === "qemu")!;
  if (Bun.which("qemu-system-aarch64")) expect(qemu.detail).toContain("qemu-system-aarch64");
  // The arm64 binary's own guests are aarch64: nothing says x86_64 guest.
  expect(d.checks.find((c) => c.name === "kvm")!.detail).not.toContain("x86_64 guest");
  expect(r.code).toBe(d.ok ? 0 : r.code);
});

test.if(runnable)("hotmount-linux-arm64 mount list --json with no instances: an empty list, exit 0", () => {
  const r = run(["mount", "list", "--json"]);
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout)).toEqual([]);
});
