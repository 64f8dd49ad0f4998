// The benchmark's pure parts (workload script on this host, ratios, table, SVG) and the argument
// handling of `hotmount bench` and `vm start --mount`. No VM: the measurement itself is
// scripts/bench/run, not a timed test.
import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { computeRatios, formatReport, medianNs, samplesOf, type BenchReport, type SourceName, type SourceResult } from "../../src/bench/report.ts";
import { percentile } from "../../src/bench/stats.ts";
import { chartSvg, esc } from "../../src/bench/svg.ts";
import { METRICS, parseWorkloadOutput, workloadArgv, type Metric, type WorkloadResult } from "../../src/bench/workload.ts";
import { defaultOutPath, parseSources } from "../../src/cli/commands/bench.ts";
import { parseStaticMount, parseStaticMounts } from "../../src/client/static-mounts.ts";
import { cVirtiofsdTuningArgs, rustVirtiofsdTuningArgs, VIRTIOFS_DEFAULTS, virtiofsTuning } from "../../drivers/qemu/virtiofs-tuning.ts";
import { hm } from "../helpers/cli.ts";

const run = (ns: Partial<Record<Metric, number>>, base = 1e9): WorkloadResult => ({
  ns: Object.fromEntries(METRICS.map((m) => [m, ns[m] ?? base])) as Record<Metric, number>,
  findEntries: 2221,
});

function source(name: SourceName, runs: WorkloadResult[]): SourceResult {
  return { name, path: `/x/${name}`, samples: samplesOf(runs), medianNs: medianNs(samplesOf(runs)) };
}

function report(sources: SourceResult[], accel = "tcg"): BenchReport {
  return {
    version: 1,
    date: "2026-01-02T03:04:05.000Z",
    accel,
    command: "hotmount bench t",
    host: { kernel: "6.1", cpus: 2, cpuModel: "x", qemu: "7.2", virtiofsd: "v" },
    instance: { name: "t", memoryMiB: 512, cpus: 2 },
    params: { sizeMiB: 128, files: 2000, fileBytes: 4096, treeEntries: 2221, reps: 3, otherReps: 1, cycles: 10 },
    caches: { guest: "dropped", host: "kept" },
    tuning: {},
    sources,
    skipped: [{ name: "9p", why: "no <slots> & such" }],
    latency: [
      {
        type: "virtiofs",
        addMs: { n: 10, p50: 300, p95: 450, min: 250, max: 460 },
        removeMs: { n: 10, p50: 200, p95: 260, min: 180, max: 270 },
        samples: { addMs: [], removeMs: [] },
      },
    ],
    ratios: computeRatios(sources),
    notes: ["under TCG the ranking differs from KVM"],
  };
}

describe("workload script", () => {
  test("runs on this host and reports every step, and find counts the tree", async () => {
    const dir = mkdtempSync(`${tmpdir()}/hm-bench-test-`);
    try {
      for (const d of ["a", "a/b", "c"]) mkdirSync(join(dir, "tree", d), { recursive: true });
      writeFileSync(join(dir, "tree", "a", "b", "f"), "x");
      const p = Bun.spawn(workloadArgv({ workDir: join(dir, "w x"), treeDir: join(dir, "tree"), sizeMiB: 2, files: 20, dropCaches: false, clock: "date" }), {
        stdout: "pipe",
        stderr: "pipe",
      });
      const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
      expect(err).toBe("");
      expect(code).toBe(0);
      const r = parseWorkloadOutput(out);
      for (const m of METRICS) expect(r.ns[m]).toBeGreaterThan(0);
      expect(r.findEntries).toBe(5); // tree, a, a/b, a/b/f, c
      // One group alone: only its steps run (a runner interleaves sources group by group).
      const q = Bun.spawnSync(
        workloadArgv({ workDir: join(dir, "w"), treeDir: join(dir, "tree"), sizeMiB: 1, files: 1, dropCaches: false, clock: "date", groups: ["find"] }),
        { stdout: "pipe" },
      );
      expect(Object.keys(parseWorkloadOutput(q.stdout.toString(), ["find"]).ns)).toEqual(["find"]);
      expect(() => parseWorkloadOutput(q.stdout.toString())).toThrow(/did not report seqWrite, seqRead, create/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a missing step is an error, not a zero", () => {
    expect(() => parseWorkloadOutput("seqWrite 5\nseqRead 6\n")).toThrow(/did not report create/);
    expect(() => parseWorkloadOutput("seqWrite x\n")).toThrow(/bad timing line/);
  });
});

describe("ratios and report", () => {
  const host = source("host", [run({ seqRead: 1e8 }, 1e8)]);
  const st = source("virtiofs-static", [run({ seqRead: 4e9 }), run({ seqRead: 1e9 }), run({ seqRead: 2e9 })]);
  const hot = source("virtiofs", [run({ seqRead: 2.5e9, seqWrite: 2e9 })]);

  test("median, hot over static and over host", () => {
    expect(percentile([4, 1, 2], 50)).toBe(2);
    expect(st.medianNs.seqRead).toBe(2e9);
    const r = computeRatios([host, st, hot]);
    expect(r.hotOverStatic!.seqRead).toBeCloseTo(0.8);
    expect(r.hotOverStatic!.seqWrite).toBeCloseTo(0.5);
    expect(r.hotOverStatic!.find).toBeCloseTo(1);
    expect(r.overHost.virtiofs!.seqRead).toBeCloseTo(0.04);
    expect(r.overHost.host).toBeUndefined();
    expect(computeRatios([host, hot]).hotOverStatic).toBeNull();
  });

  test("with paired runs, hot over static is the median of the per-run ratios", () => {
    const s2 = source("virtiofs-static", [run({ seqRead: 1e9 }), run({ seqRead: 10e9 }), run({ seqRead: 1.1e9 })]);
    const h2 = source("virtiofs", [run({ seqRead: 1.2e9 }), run({ seqRead: 9e9 }), run({ seqRead: 1e9 })]);
    // per run 0.83, 1.11, 1.10 → 1.10; the ratio of medians would be 1.1/1.2 = 0.92
    const r = computeRatios([s2, h2]);
    expect(r.hotOverStatic!.seqRead).toBeCloseTo(1.1);
    expect(r.hotOverStaticPairs!.seqRead).toHaveLength(3);
    expect(formatReport(report([s2, h2]))).toContain("read 1.10 (3 pairs, 0.83-1.11)");
  });

  test("the table has a row per source with MB/s, the ratios, latency and the notes", () => {
    const text = formatReport(report([host, st, hot]));
    expect(text).toContain("TCG");
    expect(text).toMatch(/^host \(no VM\)\s+1342\s/m); // 128 MiB in 0.1 s
    expect(text).toMatch(/^virtiofs, static\s+67\.1\s/m); // 128 MiB in 2 s
    expect(text).toContain("hot / static virtiofs: read 0.80, write 0.50");
    expect(text).toMatch(/^virtiofs\s+300\s+450\s+200\s+260\s+10$/m);
    expect(text).toContain("skipped 9p:");
    expect(text).toContain("note: under TCG the ranking differs from KVM");
  });

  test("the JSON round-trips", () => {
    const r = report([host, hot]);
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
  });
});

describe("svg chart", () => {
  test("one bar per source and measurement, escaped text, log scale for a wide spread", () => {
    const fast = source("host", [run({ seqRead: 1e7 }, 1e8)]);
    const slow = source("reverse-sshfs", [run({ seqRead: 1e10 })]);
    const svg = chartSvg(report([fast, slow]));
    expect(svg.startsWith("<svg ")).toBe(true);
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
    // 7 workload panels × 2 sources + 2 latency panels × 1 type, each bar with a <title>.
    expect(svg.match(/<rect [^>]*><title>/g)!.length).toBe(7 * 2 + 2);
    expect(svg).toContain("log scale");
    expect(svg).toContain("under KVM the ranking between transports differs");
    expect(svg).not.toMatch(/<slots>/);
    expect(esc(`a<b>&"'`)).toBe("a&lt;b&gt;&amp;&quot;&#39;");
    // Balanced tags: every opened <text> is closed.
    expect(svg.match(/<text /g)!.length).toBe(svg.match(/<\/text>/g)!.length);
  });
});

describe("arguments", () => {
  test("--sources takes aliases, keeps the fixed order, refuses unknown names", () => {
    expect(parseSources("sshfs,static,host")).toEqual(["host", "virtiofs-static", "reverse-sshfs"]);
    expect(() => parseSources("nfs")).toThrow(/unknown --sources nfs/);
    expect(defaultOutPath("dev", new Date("2026-03-04T05:06:07.890Z"))).toBe("hotmount-bench-dev-20260304-050607.json");
  });

  test("hotmount bench: bad values are usage errors before anything runs", async () => {
    const size = await hm(["bench", "t", "--size", "0"]);
    expect(size.code).toBe(2);
    expect(size.stderr).toContain("--size must be a whole number");
    const src = await hm(["bench", "t", "--sources", "nfs", "--json"]);
    expect(src.code).toBe(2);
    expect(src.json().error.code).toBe("USAGE");
    const out = await hm(["bench", "t", "--out", "x.txt"]);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain("does not end in .json");
    const missing = await hm(["bench", "nosuch", "--json"]);
    expect(missing.code).toBe(3);
    expect(missing.json().error.code).toBe("INSTANCE_NOT_FOUND");
  });

  test("vm start --mount HOST:GUEST[:ro]", () => {
    const dir = mkdtempSync(`${tmpdir()}/hm-bench-mnt-`);
    try {
      expect(parseStaticMount(`${dir}:/mnt/s`, 0)).toEqual({ hostPath: dir, mountPoint: "/mnt/s", tag: "hm-static0", writable: true });
      expect(parseStaticMount(`${dir}:/mnt/s/:ro`, 2)).toEqual({ hostPath: dir, mountPoint: "/mnt/s", tag: "hm-static2", writable: false });
      expect(() => parseStaticMount(dir, 0)).toThrow(/is not HOST:GUEST/);
      expect(() => parseStaticMount(`${dir}:mnt`, 0)).toThrow(/is not HOST:GUEST/);
      expect(() => parseStaticMount(`${dir}/nope:/mnt/s`, 0)).toThrow(/does not exist/);
      expect(() => parseStaticMounts([`${dir}:/mnt/s`, `${dir}:/mnt/s/sub`])).toThrow(/overlap/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("virtiofs tuning", () => {
  test("defaults (cache=auto, queue-size 1024, no pool), overrides from the environment, refusals", () => {
    expect(virtiofsTuning({})).toEqual(VIRTIOFS_DEFAULTS);
    expect(VIRTIOFS_DEFAULTS).toEqual({ cache: "auto", queueSize: 1024, threadPoolSize: null, extraOptions: [] });
    expect(cVirtiofsdTuningArgs(virtiofsTuning({}))).toEqual(["-o", "cache=auto"]);
    const t = virtiofsTuning({
      HOTMOUNT_VIRTIOFS_CACHE: "none",
      HOTMOUNT_VIRTIOFS_QUEUE_SIZE: "256",
      HOTMOUNT_VIRTIOFSD_THREADS: "2",
      HOTMOUNT_VIRTIOFSD_OPTS: "timeout=1, readdirplus",
    });
    expect(cVirtiofsdTuningArgs(t)).toEqual(["-o", "cache=none", "-o", "timeout=1", "-o", "readdirplus", "--thread-pool-size=2"]);
    expect(rustVirtiofsdTuningArgs(t)).toEqual(["--cache", "never", "--thread-pool-size", "2"]);
    expect(t.queueSize).toBe(256);
    const hint = (env: Record<string, string>) => {
      try {
        virtiofsTuning(env);
      } catch (e) {
        return `${(e as Error).message} / ${(e as { hint?: string }).hint}`;
      }
      return "accepted";
    };
    expect(hint({ HOTMOUNT_VIRTIOFS_QUEUE_SIZE: "1000" })).toBe("HOTMOUNT_VIRTIOFS_QUEUE_SIZE=1000 is not valid / Use a power of two from 64 to 1024.");
    expect(hint({ HOTMOUNT_VIRTIOFS_CACHE: "never" })).toContain("Use auto, always or none.");
    // An option that would redirect the share is refused, not passed on.
    expect(hint({ HOTMOUNT_VIRTIOFSD_OPTS: "source=/etc" })).toContain("comma-separated virtiofsd -o flags");
  });
});
