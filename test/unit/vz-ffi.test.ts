// The bun:ffi marshalling layer (ffi/vz.ts) against the Linux TEST DOUBLE of the hotmount-vz ABI.
// Proves: symbols and types line up with the C ABI, strings cross intact in both directions,
// out-parameters and return codes are read right, C errors become the right HotmountErrors, the
// calls block for at most their timeout, handles are not used after free, and the dylib is found
// where the binary will look. Proves nothing about Virtualization.framework itself.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, closeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VZ_DYLIB_NAME, VzLib, locateVzDylib, type VzMachine, type VzVmConfig } from "../../ffi/vz.ts";
import { buildTestDouble, loadTestDouble } from "../../ffi/vz/testdouble/load-testdouble.ts";
import { hotmountErrorOf } from "../helpers/errors.ts";

let dir: string;
let placeholder: string;
const { lib, td } = loadTestDouble();

function config(over: Partial<VzVmConfig> = {}): VzVmConfig {
  return {
    cpus: 2,
    memoryMiB: 512,
    boot: { kind: "linux", kernel: "/k/vmlinuz", cmdline: "console=hvc0" },
    disks: [],
    network: { mac: "02:00:00:00:00:01" },
    serialLog: null,
    vsock: true,
    placeholder,
    spareShares: 4,
    staticShares: [],
    ...over,
  };
}

const machines: VzMachine[] = [];
function make(over: Partial<VzVmConfig> = {}): VzMachine {
  const m = lib.create(config(over));
  machines.push(m);
  return m;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "hm-vz-ffi-"));
  placeholder = join(dir, 'empty dir "quoted" ü');
  mkdirSync(placeholder);
});
afterAll(() => {
  for (const m of machines) m.free();
  rmSync(dir, { recursive: true, force: true });
});

describe("bun:ffi bindings against the test double", () => {
  test("ABI version and support probe", () => {
    expect(lib.sym.hm_vz_abi_version()).toBe(1);
    expect(lib.isSupported()).toBe(true);
  });

  test("a library speaking another ABI is refused", () => {
    const other = buildTestDouble("-DHM_VZ_TD_ABI=99");
    const e = hotmountErrorOf(() => new VzLib(other));
    expect(e.code).toBe("HOST_DEPENDENCY_MISSING");
    expect(e.message).toContain("ABI 99");
  });

  test("the config JSON crosses the boundary byte for byte (quotes, non-ASCII)", () => {
    const cfg = config({ boot: { kind: "linux", kernel: "/k/vmlinuz", initrd: "/k/initrd ü", cmdline: 'root=/dev/vda quiet "x"' } });
    const m = make(cfg);
    expect(td.config(m.handle)).toBe(JSON.stringify(cfg));
    expect(m.shareCount()).toBe(4);
  });

  test("create errors come back as INVALID_ARGUMENT with the library's message", () => {
    const e = hotmountErrorOf(() => lib.create({ ...config(), spareShares: 65 }));
    expect(e.code).toBe("INVALID_ARGUMENT");
    expect(e.message).toContain("spareShares");
    const e2 = hotmountErrorOf(() => lib.create(config({ placeholder: join(dir, "missing") })));
    expect(e2.message).toContain("is not a directory");
    expect(e2.details).toEqual({ op: "create", rc: -3 });
  });

  test("start, state, request-stop and the stop reason", () => {
    const m = make();
    expect(m.state()).toEqual({ state: "stopped", reason: null });
    m.start();
    expect(m.state()).toEqual({ state: "running", reason: null });
    expect(hotmountErrorOf(() => m.start()).code).toBe("VM_START_FAILED"); // ESTATE on start
    m.requestStop();
    expect(m.state()).toEqual({ state: "stopped", reason: "the guest powered off" });
    expect(hotmountErrorOf(() => m.stop()).code).toBe("INSTANCE_NOT_RUNNING");
  });

  test("set, read back and clear a share; read-only travels through the out-parameter", () => {
    const m = make();
    const host = join(dir, "host folder ✓");
    mkdirSync(host);
    m.setShare(1, host, false);
    expect(m.getShare(1)).toEqual({ path: host, readOnly: false });
    m.setShare(2, host, true);
    expect(m.getShare(2)).toEqual({ path: host, readOnly: true });
    expect(m.getShare(0)).toEqual({ path: null, readOnly: true });
    m.clearShare(1);
    expect(m.getShare(1)).toEqual({ path: null, readOnly: true });
  });

  test("bad share arguments are rejected before they reach the VM", () => {
    const m = make();
    expect(hotmountErrorOf(() => m.setShare(4, dir, true)).message).toContain("out of range");
    expect(hotmountErrorOf(() => m.setShare(-1, dir, true)).code).toBe("INVALID_ARGUMENT");
    const file = join(dir, "a-file");
    writeFileSync(file, "x");
    expect(hotmountErrorOf(() => m.setShare(0, file, true)).message).toContain("not an absolute path to a directory");
    expect(hotmountErrorOf(() => m.setShare(0, "relative/dir", true)).code).toBe("INVALID_ARGUMENT");
    expect(hotmountErrorOf(() => m.setShare(0, `${dir}\0/etc`, true)).message).toContain("NUL");
  });

  test("a call that outlasts its timeout blocks only that long, then reports TIMEOUT", () => {
    const m = make();
    td.setStartDelay(m.handle, 1500);
    const t0 = performance.now();
    const e = hotmountErrorOf(() => m.start(100));
    const took = performance.now() - t0;
    expect(e.code).toBe("TIMEOUT");
    expect(e.message).toContain("did not finish within 100 ms");
    expect(took).toBeGreaterThanOrEqual(95);
    expect(took).toBeLessThan(1000); // far from the 1.5 s the work takes
    expect(m.state().state).toBe("starting");
    for (let i = 0; i < 40 && m.state().state !== "running"; i++) Bun.sleepSync(100);
    expect(m.state().state).toBe("running"); // the work finished after the caller gave up
  });

  test("vsock connect returns a descriptor this process owns", () => {
    const m = make();
    m.start();
    const fd = m.vsockConnect(4242);
    expect(fd).toBeGreaterThan(2);
    expect(readFileSync(fd, "utf8")).toBe("hotmount-vz test double, port 4242\n");
    closeSync(fd);
    const noSock = make({ vsock: false });
    noSock.start();
    expect(hotmountErrorOf(() => noSock.vsockConnect(1)).code).toBe("INSTANCE_NOT_RUNNING");
  });

  test("a freed handle is never passed to C again", () => {
    const m = lib.create(config());
    m.free();
    m.free();
    expect(hotmountErrorOf(() => m.state()).message).toContain("already freed");
  });

  test("the last error is per call: a success clears it", () => {
    const m = make();
    hotmountErrorOf(() => m.setShare(9, dir, true));
    expect(lib.lastError()).toContain("out of range");
    m.setShare(0, dir, true);
    expect(lib.lastError()).toBe("");
  });
});

describe("locating the dylib", () => {
  const none = { env: {}, execPath: "/nonexistent/bin/hotmount", embeddedFiles: [], devBuild: "/nonexistent/dist/vz/x.dylib" };

  test("HOTMOUNT_VZ_DYLIB wins, and must exist", async () => {
    const so = buildTestDouble();
    expect(await locateVzDylib({ ...none, env: { HOTMOUNT_VZ_DYLIB: so } })).toEqual({ path: so, source: "env" });
    const missing = await locateVzDylib({ ...none, env: { HOTMOUNT_VZ_DYLIB: "/nope.dylib" } }).catch((e) => e);
    expect(missing.code).toBe("HOST_DEPENDENCY_MISSING");
  });

  test("next to the executable, then embedded (extracted once by content hash), then a dev build", async () => {
    const bin = join(dir, "bin");
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, VZ_DYLIB_NAME), "beside");
    expect((await locateVzDylib({ ...none, execPath: join(bin, "hotmount") })).source).toBe("beside-binary");

    const blob = new Blob(["embedded bytes"]) as Blob & { name: string };
    Object.defineProperty(blob, "name", { value: "libhotmount-vz-1a2b3c.dylib" });
    const extractDir = join(dir, "cache");
    const a = await locateVzDylib({ ...none, embeddedFiles: [blob], extractDir });
    expect(a.source).toBe("embedded");
    expect(a.path).toMatch(/libhotmount-vz-[0-9a-f]{16}\.dylib$/);
    expect(readFileSync(a.path, "utf8")).toBe("embedded bytes");
    const b = await locateVzDylib({ ...none, embeddedFiles: [blob], extractDir });
    expect(b.path).toBe(a.path);

    const dev = join(dir, "dev.dylib");
    writeFileSync(dev, "dev");
    expect(await locateVzDylib({ ...none, devBuild: dev })).toEqual({ path: dev, source: "dev-build" });
  });

  test("nothing found: one error naming where it looked", async () => {
    const e = await locateVzDylib(none).catch((x) => x);
    expect(e.code).toBe("HOST_DEPENDENCY_MISSING");
    expect(e.hint).toContain("scripts/build-dylib");
    expect(e.details.looked).toContain("/nonexistent/bin/libhotmount-vz.dylib");
  });
});
