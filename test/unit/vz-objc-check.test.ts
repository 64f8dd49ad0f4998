// The Objective-C bridge on Linux: it cannot be linked or run here (no Virtualization.framework),
// so this proves what a compiler can: ffi/vz/src is valid Objective-C under ARC with -Werror, every
// Foundation call matches GNUstep's Foundation, every VZ message matches the declaration header in
// ffi/vz/linux-check, and the C ABI header, the TypeScript bindings and the test double agree on
// names and constants. Whether ffi/vz/linux-check matches Apple's SDK is proven only on a Mac.
import { describe, expect, test } from "bun:test";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VZ_ABI_VERSION, VZ_SPARE_TAG_PREFIX, VZ_STATES, VzRc } from "../../ffi/vz.ts";
import { loadTestDouble } from "../../ffi/vz/testdouble/load-testdouble.ts";

const repo = join(import.meta.dir, "../..");
const header = readFileSync(join(repo, "ffi/vz/include/hotmount-vz.h"), "utf8");

function check(env: Record<string, string> = {}) {
  const r = Bun.spawnSync([join(repo, "scripts/build-dylib"), "--check"], { cwd: repo, env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, out: r.stdout.toString() + r.stderr.toString() };
}

describe("Objective-C compile check (clang + GNUstep + declaration headers)", () => {
  test("ffi/vz/src compiles under ARC with -Werror", () => {
    const r = check();
    expect(r.out).toContain("compile (ARC, -Werror)");
    expect(r.code).toBe(0);
  });

  test("the check is not vacuous: a wrong VZ selector and a missing ARC bridge both fail it", () => {
    const tmp = mkdtempSync(join(tmpdir(), "hm-vz-src-"));
    try {
      cpSync(join(repo, "ffi/vz/src"), tmp, { recursive: true });
      const f = join(tmp, "hm-vz-machine.m");
      const src = readFileSync(f, "utf8");
      writeFileSync(
        f,
        src
          .replace("[mm.vm startWithCompletionHandler:", "[mm.vm startWithCompletion:")
          .replace("return (__bridge HMVZMachine *)(void *)h;", "return (HMVZMachine *)(void *)h;"),
      );
      const r = check({ HOTMOUNT_VZ_SRC: tmp });
      expect(r.code).not.toBe(0);
      expect(r.out).toContain("no visible @interface for 'VZVirtualMachine' declares the selector 'startWithCompletion:'");
      expect(r.out).toContain("requires a bridged cast");
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe("one ABI, three places: C header, ffi/vz.ts, test double", () => {
  const exported = [...header.matchAll(/^HM_VZ_EXPORT [^(]*?\b(hm_vz_\w+)\(/gm)].map((m) => m[1]!).sort();
  const define = (name: string) => {
    const m = new RegExp(`#define ${name} \\(?(-?\\d+)\\)?`).exec(header);
    if (!m) throw new Error(`${name} missing from the header`);
    return Number(m[1]);
  };

  test("the bindings declare exactly the exported functions, and the double exports them", () => {
    const { lib } = loadTestDouble(); // dlopen fails if the double lacks any bound symbol
    expect(Object.keys(lib.sym).sort()).toEqual(exported);
    expect(exported.length).toBe(14);
  });

  test("version, return codes, states and tag prefix match", () => {
    expect(define("HM_VZ_ABI_VERSION")).toBe(VZ_ABI_VERSION);
    for (const [k, v] of Object.entries(VzRc)) expect(define(`HM_VZ_${k}`)).toBe(v);
    VZ_STATES.forEach((s, i) => expect(define(`HM_VZ_STATE_${s.toUpperCase()}`)).toBe(i));
    expect(header).toContain(`#define HM_VZ_SPARE_TAG_PREFIX "${VZ_SPARE_TAG_PREFIX}"`);
  });

  test("every ObjC entry point implements a header declaration with the same signature", () => {
    const objc = readFileSync(join(repo, "ffi/vz/src/hm-vz-machine.m"), "utf8");
    const norm = (s: string) =>
      s.replace(/\b(config_json|json|timeout_ms|timeoutMs|buf_len|bufLen|read_only|readOnly|cpath|path|h|vm|index|port|buf|out)\b/g, "_").replace(/\s+/g, " ");
    for (const name of exported) {
      const decl = new RegExp(`HM_VZ_EXPORT ([^;]*\\b${name}\\([^)]*\\));`).exec(header)?.[1];
      const impl = new RegExp(`^([\\w ]+\\*?\\s*${name}\\([^)]*\\)) \\{`, "m").exec(objc)?.[1];
      expect(impl, `${name} is not implemented in hm-vz-machine.m`).toBeDefined();
      expect(norm(impl!)).toBe(norm(decl!));
    }
  });
});
