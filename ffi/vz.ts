// bun:ffi bindings for the hotmount-vz C ABI (ffi/vz/include/hotmount-vz.h). Everything that
// crosses the boundary goes through here: strings in as NUL-terminated buffers, the VM handle as a
// pointer number, out-parameters as typed arrays, negative return codes out as HotmountErrors that
// carry the library's last error. Each C call blocks this thread for at most its timeout (the ABI
// guarantees it), and nothing calls back into JavaScript.
import { dlopen, FFIType, type Pointer } from "bun:ffi";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { HotmountError, type ErrorCode } from "../src/core/errors.ts";

export const VZ_ABI_VERSION = 1;
export const VZ_DYLIB_NAME = "libhotmount-vz.dylib";
export const VZ_SPARE_TAG_PREFIX = "hotmount-";

export const VzRc = { OK: 0, EFAIL: -1, ETIMEDOUT: -2, EINVAL: -3, ESTATE: -4, EUNSUPPORTED: -5 } as const;
/** HM_VZ_STATE_* in index order. */
export const VZ_STATES = ["stopped", "running", "paused", "error", "starting", "pausing", "resuming", "stopping", "unknown"] as const;
export type VzState = (typeof VZ_STATES)[number];

/** The JSON hm_vz_create takes; this type is the schema's source of truth. */
export interface VzVmConfig {
  cpus: number;
  memoryMiB: number;
  boot: { kind: "linux"; kernel: string; initrd?: string; cmdline: string } | { kind: "efi"; variableStore: string };
  disks: { path: string; readOnly: boolean }[];
  /** NAT networking with this MAC; null for none. */
  network: { mac: string } | null;
  serialLog: string | null;
  vsock: boolean;
  /** Empty directory that free spare devices share read-only. */
  placeholder: string;
  /** Spare virtio-fs devices, tagged hotmount-0 .. hotmount-(N-1). */
  spareShares: number;
  staticShares: { tag: string; path: string; readOnly: boolean }[];
}

const P = FFIType.ptr;
const I32 = FFIType.i32;
const SYMBOLS = {
  hm_vz_abi_version: { args: [], returns: I32 },
  hm_vz_is_supported: { args: [], returns: I32 },
  hm_vz_last_error: { args: [], returns: FFIType.cstring },
  hm_vz_create: { args: [P, P, I32], returns: I32 },
  hm_vz_free: { args: [P], returns: FFIType.void },
  hm_vz_start: { args: [P, I32], returns: I32 },
  hm_vz_request_stop: { args: [P, I32], returns: I32 },
  hm_vz_stop: { args: [P, I32], returns: I32 },
  hm_vz_state: { args: [P, I32], returns: I32 },
  hm_vz_share_count: { args: [P], returns: I32 },
  hm_vz_set_share: { args: [P, I32, P, I32, I32], returns: I32 },
  hm_vz_clear_share: { args: [P, I32, I32], returns: I32 },
  hm_vz_get_share: { args: [P, I32, P, I32, P, I32], returns: I32 },
  hm_vz_vsock_connect: { args: [P, FFIType.u32, I32], returns: I32 },
} as const;
type Symbols = ReturnType<typeof dlopen<typeof SYMBOLS>>["symbols"];

function cstr(s: string): Buffer {
  if (s.includes("\0")) throw new HotmountError("INVALID_ARGUMENT", "a string passed to the VZ library contains a NUL byte");
  return Buffer.from(s + "\0", "utf8");
}

/** Timeouts per call, in ms: short, because each one blocks the agent's event loop while it waits. */
export const VZ_TIMEOUTS = { create: 10_000, start: 15_000, stop: 10_000, requestStop: 5_000, state: 2_000, share: 5_000, vsock: 5_000 };

/** One loaded library (the real dylib or the Linux test double). */
export class VzLib {
  readonly path: string;
  readonly sym: Symbols;

  constructor(path: string) {
    this.path = path;
    try {
      this.sym = dlopen(path, SYMBOLS).symbols;
    } catch (e) {
      throw new HotmountError("HOST_DEPENDENCY_MISSING", `cannot load the VZ library ${path}`, {
        cause: e,
        hint: "Rebuild it with scripts/build-dylib, or point HOTMOUNT_VZ_DYLIB at a working copy.",
      });
    }
    const v = this.sym.hm_vz_abi_version();
    if (v !== VZ_ABI_VERSION) {
      throw new HotmountError("HOST_DEPENDENCY_MISSING", `the VZ library ${path} speaks ABI ${v}, this hotmount needs ${VZ_ABI_VERSION}`, {
        hint: "Rebuild it with scripts/build-dylib from the same checkout as hotmount.",
      });
    }
  }

  lastError(): string {
    return String(this.sym.hm_vz_last_error() ?? "");
  }

  isSupported(): boolean {
    return this.sym.hm_vz_is_supported() === 1;
  }

  /** Turns a negative return code into a HotmountError; passes results (>= 0) through. */
  check(rc: number, op: string, failCode: ErrorCode = "INTERNAL"): number {
    if (rc >= 0) return rc;
    const why = this.lastError() || "no detail";
    const code: ErrorCode =
      rc === VzRc.ETIMEDOUT
        ? "TIMEOUT"
        : rc === VzRc.EINVAL
          ? "INVALID_ARGUMENT"
          : rc === VzRc.EUNSUPPORTED
            ? "UNSUPPORTED"
            : rc === VzRc.ESTATE && op !== "start"
              ? "INSTANCE_NOT_RUNNING"
              : failCode;
    const hint =
      rc === VzRc.EUNSUPPORTED
        ? "VZ needs macOS 12 or later on a Mac with virtualization (not inside most VMs)."
        : rc === VzRc.ETIMEDOUT
          ? "Virtualization.framework did not answer in time; see the agent log, then `hotmount vm stop` and start again."
          : undefined;
    throw new HotmountError(code, `VZ ${op}: ${why}`, { hint, details: { op, rc } });
  }

  create(cfg: VzVmConfig, timeoutMs = VZ_TIMEOUTS.create): VzMachine {
    const out = new BigUint64Array(1);
    this.check(this.sym.hm_vz_create(cstr(JSON.stringify(cfg)), out, timeoutMs), "create", "VM_START_FAILED");
    // The handle came back through an out-parameter; a pointer fits a JS number on 64-bit hosts (48-bit addresses).
    return new VzMachine(this, Number(out[0]) as Pointer);
  }
}

/** One VM handle. Not thread-safe by design: only the JavaScript thread calls it. */
export class VzMachine {
  #handle: Pointer | 0;
  constructor(
    readonly lib: VzLib,
    handle: Pointer,
  ) {
    if (!handle) throw new HotmountError("INTERNAL", "VZ create returned a null handle");
    this.#handle = handle;
  }

  /** The raw pointer, for test-only symbols of the test double. */
  get handle(): Pointer {
    if (!this.#handle) throw new HotmountError("INTERNAL", "this VZ VM handle was already freed");
    return this.#handle;
  }

  start(timeoutMs = VZ_TIMEOUTS.start): void {
    this.lib.check(this.lib.sym.hm_vz_start(this.handle, timeoutMs), "start", "VM_START_FAILED");
  }
  requestStop(timeoutMs = VZ_TIMEOUTS.requestStop): void {
    this.lib.check(this.lib.sym.hm_vz_request_stop(this.handle, timeoutMs), "request-stop");
  }
  stop(timeoutMs = VZ_TIMEOUTS.stop): void {
    this.lib.check(this.lib.sym.hm_vz_stop(this.handle, timeoutMs), "stop");
  }

  /** The state, and why the VM stopped by itself (null when it did not). */
  state(timeoutMs = VZ_TIMEOUTS.state): { state: VzState; reason: string | null } {
    const s = this.lib.check(this.lib.sym.hm_vz_state(this.handle, timeoutMs), "state");
    return { state: VZ_STATES[s] ?? "unknown", reason: this.lib.lastError() || null };
  }

  shareCount(): number {
    return this.lib.sym.hm_vz_share_count(this.handle);
  }
  setShare(index: number, hostPath: string, readOnly: boolean, timeoutMs = VZ_TIMEOUTS.share): void {
    this.lib.check(this.lib.sym.hm_vz_set_share(this.handle, index, cstr(hostPath), readOnly ? 1 : 0, timeoutMs), "set-share");
  }
  clearShare(index: number, timeoutMs = VZ_TIMEOUTS.share): void {
    this.lib.check(this.lib.sym.hm_vz_clear_share(this.handle, index, timeoutMs), "clear-share");
  }

  /** What spare `index` shares now, as VZ reports it; path null = the empty placeholder. */
  getShare(index: number, timeoutMs = VZ_TIMEOUTS.share): { path: string | null; readOnly: boolean } {
    const buf = Buffer.alloc(8192);
    const ro = new Int32Array(1);
    const n = this.lib.check(this.lib.sym.hm_vz_get_share(this.handle, index, buf, buf.length, ro, timeoutMs), "get-share");
    return { path: n === 0 ? null : buf.toString("utf8", 0, n), readOnly: ro[0] === 1 };
  }

  /** A connected stream to a guest vsock port; the caller owns (and closes) the descriptor. */
  vsockConnect(port: number, timeoutMs = VZ_TIMEOUTS.vsock): number {
    return this.lib.check(this.lib.sym.hm_vz_vsock_connect(this.handle, port >>> 0, timeoutMs), "vsock-connect");
  }

  /** Stops the VM hard if it still runs, then releases it. Safe to call twice. */
  free(): void {
    if (!this.#handle) return;
    const h = this.#handle;
    this.#handle = 0;
    this.lib.sym.hm_vz_free(h);
  }
}

export type VzDylibSource = "env" | "beside-binary" | "embedded" | "dev-build";

export interface LocateOptions {
  env?: Record<string, string | undefined>;
  /** The running executable; a release may ship the dylib next to it. */
  execPath?: string;
  /** Where an embedded copy is extracted to (content-addressed); no extraction without it. */
  extractDir?: string;
  /** Files embedded in a compiled binary (Bun.embeddedFiles). */
  embeddedFiles?: readonly Blob[];
  /** The build output of scripts/build-dylib in a checkout (or the same path embedded as an asset). */
  devBuild?: string;
}

/**
 * Finds the dylib, in this order: $HOTMOUNT_VZ_DYLIB (an explicit override, which must exist), next to
 * the executable, embedded in the executable, then a checkout's dist/vz. dlopen needs a real file, so
 * an embedded copy is written once to extractDir under its content hash. Throws
 * HOST_DEPENDENCY_MISSING naming every place it looked.
 */
export async function locateVzDylib(opts: LocateOptions = {}): Promise<{ path: string; source: VzDylibSource }> {
  const env = opts.env ?? process.env;
  const override = env.HOTMOUNT_VZ_DYLIB;
  if (override) {
    if (existsSync(override)) return { path: override, source: "env" };
    throw new HotmountError("HOST_DEPENDENCY_MISSING", `HOTMOUNT_VZ_DYLIB points at ${override}, which does not exist`, {
      hint: "Unset HOTMOUNT_VZ_DYLIB or point it at a built libhotmount-vz.dylib.",
    });
  }
  const looked: string[] = [];
  const beside = join(dirname(opts.execPath ?? process.execPath), VZ_DYLIB_NAME);
  looked.push(beside);
  if (existsSync(beside)) return { path: beside, source: "beside-binary" };

  const blob = (opts.embeddedFiles ?? Bun.embeddedFiles).find((b) => /libhotmount-vz[^/]*\.dylib$/.test((b as Blob & { name?: string }).name ?? ""));
  const dev = opts.devBuild ?? join(import.meta.dir, "..", "dist", "vz", VZ_DYLIB_NAME);
  looked.push(dev);
  // Inside a compiled binary, import.meta.dir is in Bun's virtual /$bunfs, where an asset is
  // readable but not dlopen-able. Where exactly scripts/build.ts's asset lands there is unverified,
  // so try both spellings of "dist/vz next to the bundle".
  const asset = [dev, join(import.meta.dir, "dist", "vz", VZ_DYLIB_NAME)].find((p) => p.includes("$bunfs") && existsSync(p));
  if ((blob || asset) && opts.extractDir) {
    const bytes = blob ? new Uint8Array(await blob.arrayBuffer()) : new Uint8Array(readFileSync(asset!));
    return { path: extractOnce(bytes, opts.extractDir), source: "embedded" };
  }
  if (!dev.includes("$bunfs") && existsSync(dev)) return { path: dev, source: "dev-build" };
  throw new HotmountError("HOST_DEPENDENCY_MISSING", `the VZ library ${VZ_DYLIB_NAME} is missing`, {
    hint: "Build it with scripts/build-dylib (macOS), or set HOTMOUNT_VZ_DYLIB.",
    details: { looked },
  });
}

function extractOnce(bytes: Uint8Array, dir: string): string {
  const sum = createHash("sha256").update(bytes).digest("hex").slice(0, 16);
  const path = join(dir, `libhotmount-vz-${sum}.dylib`);
  if (existsSync(path)) return path;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // Write then rename: two agents extracting at once both end with the same complete file.
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, bytes, { mode: 0o755 });
  renameSync(tmp, path);
  return path;
}

const loaded = new Map<string, VzLib>();

/** Loads (once per path) the library locateVzDylib finds. */
export async function loadVz(opts: LocateOptions = {}): Promise<VzLib> {
  const { path } = await locateVzDylib(opts);
  let lib = loaded.get(path);
  if (!lib) {
    lib = new VzLib(path);
    loaded.set(path, lib);
  }
  return lib;
}
