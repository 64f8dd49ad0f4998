// `hotmount bench INSTANCE`: throughput per transport against the host, hot-plug latency, and a
// table, JSON and an SVG chart (written next to the JSON).
import type { Command } from "commander";
import { HotmountError } from "../../core/errors.ts";
import { printJson, runAction } from "../output.ts";
import { intIn } from "../parse.ts";

const SOURCE_ALIASES: Record<string, string> = {
  host: "host",
  static: "virtiofs-static",
  "virtiofs-static": "virtiofs-static",
  virtiofs: "virtiofs",
  hot: "virtiofs",
  "9p": "9p",
  sshfs: "reverse-sshfs",
  "reverse-sshfs": "reverse-sshfs",
};
export const DEFAULT_SOURCES = "host,static,virtiofs,9p,sshfs";

/** "host,static,9p" → canonical source names, in the benchmark's fixed order. */
export function parseSources(v: string): string[] {
  const names = v
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = names.filter((n) => !SOURCE_ALIASES[n]);
  if (bad.length || !names.length) {
    throw new HotmountError("USAGE", `unknown --sources ${bad.length ? bad.join(", ") : "(empty)"}`, {
      hint: `Pick from ${DEFAULT_SOURCES} (static = the VM's --mount share, sshfs = reverse-sshfs).`,
    });
  }
  const set = new Set(names.map((n) => SOURCE_ALIASES[n]!));
  return ["host", "virtiofs-static", "virtiofs", "9p", "reverse-sshfs"].filter((s) => set.has(s));
}

export function defaultOutPath(instance: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, "").replace(/\..*$/, "").replace("T", "-");
  return `hotmount-bench-${instance}-${stamp}.json`;
}

export function register(program: Command): void {
  program
    .command("bench")
    .argument("<instance>", "a running instance")
    .description("measure each transport against the host folder itself, and hot-plug latency; write a table, JSON and an SVG chart")
    .option("--dir <hostdir>", "writable host folder to work in (default: the VM's static --mount share)")
    .option("--size <MiB>", "large-file size in MiB (default 128)", intIn("--size", 1, 65536))
    .option("--files <n>", "small files to create, stat, read and delete (default 2000)", intIn("--files", 1, 100000))
    .option("--reps <n>", "runs of the workload for the host and both virtiofs shares; medians are reported (default 5)", intIn("--reps", 1, 50))
    .option("--other-reps <n>", "runs for 9p and reverse-sshfs, which are slow under TCG (default 1)", intIn("--other-reps", 1, 50))
    .option("--cycles <n>", "hot-plug add/remove cycles per transport, 0 to skip (default 10)", intIn("--cycles", 0, 1000))
    .option("--sources <list>", `what to measure (default ${DEFAULT_SOURCES})`, parseSources)
    .option("--drop-host-caches", "also drop the host's page cache before each host step (machine-wide: affects everything else on this host)")
    .option("-o, --out <file.json>", "where to write the JSON; the chart goes next to it as .svg (default hotmount-bench-INSTANCE-DATE.json)")
    .option("--json", "print the JSON report instead of the table")
    .addHelpText(
      "after",
      "\nExamples:\n  hotmount vm start b --mount /tmp/share:/mnt/static && hotmount bench b\n  hotmount bench dev --dir ~/scratch --sources host,virtiofs,9p --cycles 0\n",
    )
    .action((instance: string, o) =>
      runAction(o.json, async () => {
        const { checkName } = await import("../../client/instances.ts");
        checkName(instance);
        const { runBench } = await import("../../bench/run.ts");
        const { formatReport } = await import("../../bench/report.ts");
        const { chartSvg } = await import("../../bench/svg.ts");
        const { writeFileSync } = await import("node:fs");
        const { resolve } = await import("node:path");
        const out = resolve(o.out ?? defaultOutPath(instance));
        if (!out.endsWith(".json"))
          throw new HotmountError("USAGE", `--out ${o.out} does not end in .json`, { hint: "The chart is written next to it with .svg instead of .json." });
        const started = Date.now();
        const report = await runBench({
          instance,
          dir: o.dir,
          sizeMiB: o.size ?? 128,
          files: o.files ?? 2000,
          reps: o.reps ?? 5,
          otherReps: o.otherReps ?? 1,
          cycles: o.cycles ?? 10,
          sources: o.sources ?? parseSources(DEFAULT_SOURCES),
          dropHostCaches: !!o.dropHostCaches,
          command: ["hotmount", ...process.argv.slice(2)].join(" "),
          log: (l) => process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${l}\n`),
        });
        const svg = out.replace(/\.json$/, ".svg");
        writeFileSync(out, JSON.stringify(report, null, 2) + "\n");
        writeFileSync(svg, chartSvg(report));
        if (o.json) printJson(report);
        else process.stdout.write(`${formatReport(report)}\nwrote ${out}\n  and ${svg}\n`);
      }),
    );
}
