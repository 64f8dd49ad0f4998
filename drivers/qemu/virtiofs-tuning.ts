// virtiofs performance settings, in one place for hot-plugged and static shares alike (so the two
// compare like for like). The defaults come from measurements: docs/bench.md. Each can be
// overridden by an environment variable read when the agent or `vm start` runs, which is how the
// before/after rows there are reproduced; they are benchmarking knobs, not a user interface.
import { HotmountError } from "../../src/core/errors.ts";

export type VirtiofsCache = "auto" | "always" | "none";

export interface VirtiofsTuning {
  /** virtiofsd's cache mode (the Rust virtiofsd spells none "never"). */
  cache: VirtiofsCache;
  /**
   * vhost-user-fs-pci queue-size: it caps one FUSE request's pages (128 → 496 KiB, 512 and up →
   * 1 MiB, the FUSE maximum), so big reads and writes take fewer round trips.
   */
  queueSize: number;
  /** virtiofsd --thread-pool-size; null keeps virtiofsd's own default. */
  threadPoolSize: number | null;
  /** Extra `-o` options for the C virtiofsd (e.g. timeout=1, readdirplus). */
  extraOptions: string[];
}

export const VIRTIOFS_DEFAULTS: VirtiofsTuning = {
  cache: "auto",
  queueSize: 1024,
  threadPoolSize: null,
  extraOptions: [],
};

const ENV = {
  cache: "HOTMOUNT_VIRTIOFS_CACHE",
  queueSize: "HOTMOUNT_VIRTIOFS_QUEUE_SIZE",
  threads: "HOTMOUNT_VIRTIOFSD_THREADS",
  extra: "HOTMOUNT_VIRTIOFSD_OPTS",
} as const;

function bad(name: string, value: string, hint: string): never {
  throw new HotmountError("INVALID_ARGUMENT", `${name}=${value} is not valid`, { hint });
}

/** The defaults with any environment overrides applied; bad values are refused, never ignored. */
export function virtiofsTuning(env: Record<string, string | undefined> = process.env): VirtiofsTuning {
  const t = { ...VIRTIOFS_DEFAULTS, extraOptions: [...VIRTIOFS_DEFAULTS.extraOptions] };
  const cache = env[ENV.cache];
  if (cache) {
    if (cache !== "auto" && cache !== "always" && cache !== "none") bad(ENV.cache, cache, "Use auto, always or none.");
    t.cache = cache;
  }
  const q = env[ENV.queueSize];
  if (q) {
    const n = Number(q);
    // QEMU requires a power of two; the virtio ring limit is 1024.
    if (!Number.isInteger(n) || n < 64 || n > 1024 || (n & (n - 1)) !== 0) bad(ENV.queueSize, q, "Use a power of two from 64 to 1024.");
    t.queueSize = n;
  }
  const th = env[ENV.threads];
  if (th) {
    const n = Number(th);
    if (!Number.isInteger(n) || n < 0 || n > 64) bad(ENV.threads, th, "Use a whole number from 0 to 64.");
    t.threadPoolSize = n;
  }
  const extra = env[ENV.extra];
  if (extra) {
    const opts = extra
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    // Only simple flags: a source= or socket option here would redirect the share.
    for (const o of opts) if (!/^[a-z_]+(=[0-9.]+)?$/.test(o)) bad(ENV.extra, extra, "Give comma-separated virtiofsd -o flags such as timeout=1,readdirplus.");
    t.extraOptions = opts;
  }
  return t;
}

/** The tuning part of a C virtiofsd command line. */
export function cVirtiofsdTuningArgs(t: VirtiofsTuning): string[] {
  const a = ["-o", `cache=${t.cache}`];
  for (const o of t.extraOptions) a.push("-o", o);
  if (t.threadPoolSize !== null) a.push(`--thread-pool-size=${t.threadPoolSize}`);
  return a;
}

/** The tuning part of a Rust virtiofsd command line. */
export function rustVirtiofsdTuningArgs(t: VirtiofsTuning): string[] {
  const a = ["--cache", t.cache === "none" ? "never" : t.cache];
  if (t.threadPoolSize !== null) a.push("--thread-pool-size", String(t.threadPoolSize));
  return a;
}
