// The linux-arm64 binary, executed: cross-built by scripts/build.ts and run on this x86_64 host
// under qemu-user (qemu-aarch64-static from Debian's qemu-user-static, scripts/deps/arm.txt),
// so the arm64 build is not only compiled. Its glibc comes from Debian's arm64 libc6 and
// libgcc-s1, fetched by the same private apt state as the aarch64 demo guest (QEMU_LD_PREFIX).
// Skipped, saying why, on a host without qemu-aarch64-static; on an arm64 host it runs natively.
// Under qemu-user it also runs the unit tier (test/unit) with an arm64 Bun from the npm registry
// (test/helpers/arm64-bun.ts), so the code runs on the arm64 build of the runtime too.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fetchDebs } from "../src/guest-image/apt.ts";
import { debCacheDir } from "../src/core/paths.ts";
import { arm64BunWrapper, ensureArm64Bun } from "./helpers/arm64-bun.ts";

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

/**
 * One `bun test` of `files` under the arm64 Bun, in a home of its own (its preload audits its own
 * leaks, not this file's); the summary's pass and fail counts.
 */
function unitRun(bin: string, files: string[], name: string) {
  const home = join(dir, name);
  mkdirSync(home);
  const t0 = performance.now();
  const r = Bun.spawnSync([join(bin, "bun"), "test", "--timeout", "300000", ...files], {
    cwd: ROOT,
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, HOTMOUNT_TEST_HOME: home },
    stdout: "pipe",
    stderr: "pipe",
    timeout: 600_000,
  });
  const out = `${r.stdout}${r.stderr}`;
  const count = (w: string) => Number(new RegExp(`^\\s*(\\d+) ${w}$`, "m").exec(out)?.[1] ?? -1);
  return { code: r.exitCode, pass: count("pass"), fail: count("fail"), seconds: (performance.now() - t0) / 1000, out };
}

/**
 * Unit files that build with the host's toolchain and load or run the result: the VZ test double
 * (a host .so through bun:ffi, which an arm64 process cannot dlopen) and `bun build --compile`
 * (it writes the host's target). They test the host build, not the arm64 runtime.
 */
const HOST_BUILDS = new Set(["build.test.ts", "vz-driver.test.ts", "vz-ffi.test.ts", "vz-objc-check.test.ts"]);

// Without --isolate (each file in a fresh arm64 Bun took 166 s here, one Bun for all 34 s):
// activity.test.ts runs on its own, since its client-identity case needs a process where no other
// file built the cached header first (it fails natively too when it shares one).
test.if(!native && !!qemuUser)(
  "the unit tier (test/unit) under an arm64 Bun from npm at the host's version, in qemu-user",
  () => {
    const { bun, integrity, fetched } = ensureArm64Bun(Bun.version);
    const bin = arm64BunWrapper(dir, bun, qemuUser!, sysroot);
    const probe = Bun.spawnSync([join(bin, "bun"), "-e", "process.stdout.write(`${process.arch} ${Bun.version}`)"], { stdout: "pipe", stderr: "pipe" });
    expect(probe.stdout.toString()).toBe(`arm64 ${Bun.version}`);
    const all = readdirSync(join(ROOT, "test", "unit"))
      .filter((f) => f.endsWith(".test.ts") && !HOST_BUILDS.has(f))
      .sort()
      .map((f) => `test/unit/${f}`);
    const alone = "test/unit/activity.test.ts";
    expect(all).toContain(alone);
    const runs = [
      unitRun(
        bin,
        all.filter((f) => f !== alone),
        "unit-rest",
      ),
      unitRun(bin, [alone], "unit-activity"),
    ];
    for (const r of runs) {
      if (r.code !== 0 || r.fail !== 0) console.log(r.out);
      expect({ code: r.code, fail: r.fail }).toEqual({ code: 0, fail: 0 });
      expect(r.pass).toBeGreaterThan(0);
    }
    console.log(
      `arm64-binary: test/unit (${all.length} files) under the arm64 Bun ${Bun.version} (${fetched ? "fetched" : "cached"}, ${integrity.slice(0, 20)}...): ` +
        `${runs[0]!.pass + runs[1]!.pass} pass in ${runs[0]!.seconds.toFixed(1)} + ${runs[1]!.seconds.toFixed(1)} s`,
    );
  },
  900_000,
);
