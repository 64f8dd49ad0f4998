// Builds and loads the Linux TEST DOUBLE of the hotmount-vz ABI for the tests (test/vz*.test.ts).
// Not imported by hotmount itself.
import { dlopen, FFIType, type Pointer } from "bun:ffi";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VzLib } from "../../vz.ts";

const repo = join(import.meta.dir, "..", "..", "..");
const built = new Map<string, string>();

/** Compiles ffi/vz/testdouble with scripts/build-dylib (once per CFLAGS) and returns the .so path. */
export function buildTestDouble(cflags = ""): string {
  const hit = built.get(cflags);
  if (hit) return hit;
  // Under the test run's home when there is one, so the run's clean-up takes it away too.
  const base = process.env.HOTMOUNT_TEST_HOME ?? tmpdir();
  const out = join(mkdtempSync(join(base, "hm-vz-td-")), "libhm-vz-testdouble.so");
  const r = Bun.spawnSync([join(repo, "scripts", "build-dylib"), "--testdouble", out], {
    env: { ...process.env, CFLAGS: cflags },
    stdout: "pipe",
    stderr: "pipe",
  });
  if (r.exitCode !== 0) throw new Error(`building the VZ test double failed:\n${r.stderr.toString()}`);
  built.set(cflags, out);
  return out;
}

/** The double's test-only controls (hm_vz_td_*), which the real dylib does not have. */
export function testDoubleControls(path: string) {
  const { symbols } = dlopen(path, {
    hm_vz_td_set_start_delay: { args: [FFIType.ptr, FFIType.i32], returns: FFIType.void },
    hm_vz_td_guest_poweroff: { args: [FFIType.ptr], returns: FFIType.void },
    hm_vz_td_config: { args: [FFIType.ptr], returns: FFIType.cstring },
  });
  return {
    setStartDelay: (h: Pointer, ms: number) => symbols.hm_vz_td_set_start_delay(h, ms),
    guestPoweroff: (h: Pointer) => symbols.hm_vz_td_guest_poweroff(h),
    config: (h: Pointer) => String(symbols.hm_vz_td_config(h)),
  };
}

export function loadTestDouble(): { lib: VzLib; td: ReturnType<typeof testDoubleControls>; path: string } {
  const path = buildTestDouble();
  return { lib: new VzLib(path), td: testDoubleControls(path), path };
}
