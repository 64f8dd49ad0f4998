// `bun run build`: compiles hotmount into single-file executables with `bun build --compile`.
//   (no flags)          dist/hotmount for this host, plus dist/hotmount-<os>-<arch> for every target
//   --host              only dist/hotmount
//   --target T          only dist/hotmount-T (repeatable; T is linux-x64, linux-arm64, darwin-arm64,
//                       darwin-x64, or "host")
//   --outdir D          write into D instead of dist/
//   --entry F           bundle F instead of src/main.ts (tests and experiments)
//   --vz-dylib F        the VZ bridge darwin binaries embed (default dist/vz/libhotmount-vz.dylib,
//                       which scripts/build-dylib makes on macOS); skipped with a note when absent
// Cross targets need no toolchain: Bun fetches each target's runtime from the npm registry once.
import { parseArgs } from "node:util";
import { existsSync, mkdirSync, rmSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import type { BunPlugin } from "bun";
import { BUILD_DEFINE_NAMES, hostTarget } from "../src/core/build-info.ts";
import { compileHelper, HELPER_ARCHES, helperAssetName } from "../src/agent/watch/helper-binary.ts";

const ROOT = resolve(import.meta.dir, "..");

// x64 uses Bun's "baseline" runtime: the default one needs AVX2, which older CPUs and some
// virtual CPUs (QEMU's default models, CI runners) lack; startup time is the same either way.
export const TARGETS = {
  "linux-x64": "bun-linux-x64-baseline",
  "linux-arm64": "bun-linux-arm64",
  "darwin-arm64": "bun-darwin-arm64",
  "darwin-x64": "bun-darwin-x64-baseline",
} as const satisfies Record<string, Bun.Build.CompileTarget>;
export type TargetName = keyof typeof TARGETS;

export interface BuildOptions {
  /** "host" builds with the running Bun (no download) and writes `hotmount`. */
  target: TargetName | "host";
  outdir: string;
  entry: string;
  /** Embedded into darwin binaries when the file exists (ffi/vz.ts finds it in Bun.embeddedFiles). */
  vzDylib: string;
}

export interface BuildResult {
  target: string;
  outfile: string;
  bytes: number;
  ms: number;
  /** Files embedded as assets. */
  embedded: string[];
  note?: string;
}

function git(...args: string[]): string | null {
  const r = Bun.spawnSync(["git", ...args], { cwd: ROOT, stdout: "pipe", stderr: "ignore" });
  return r.exitCode === 0 ? r.stdout.toString().trim() : null;
}

/** Short commit, "-dirty" when tracked files differ from it; "unknown" outside a git checkout. */
export function gitCommit(): string {
  const sha = git("rev-parse", "--short=12", "HEAD");
  if (!sha) return "unknown";
  return git("status", "--porcelain", "--untracked-files=no") ? `${sha}-dirty` : sha;
}

// What a stubbed import evaluates to, by kind.
const STUBS = {
  // Never reached: ink imports its devtools only when DEV=true and import.meta.resolve finds
  // react-devtools-core, which a compiled binary cannot.
  devtools: "export default {}; export const connectToDevTools = () => {};",
  // ssh2 loads its optional native addons (cpu-features, sshcrypto.node) inside try/catch and
  // falls back to pure JS. They are not built (no install scripts run, see trustedDependencies),
  // so the bundler cannot resolve them; throwing takes ssh2's fallback path, as from source.
  native: "throw new Error('native addon not bundled into hotmount');",
};

/** Stubs what cannot be bundled. */
function stubPlugin(): BunPlugin {
  return {
    name: "hotmount-stubs",
    setup(build) {
      const stub = (kind: keyof typeof STUBS) => () => ({ path: kind, namespace: "hotmount-stub" });
      build.onResolve({ filter: /^react-devtools-core$/ }, stub("devtools"));
      build.onResolve({ filter: /^cpu-features$|\.node$/ }, stub("native"));
      build.onLoad({ filter: /.*/, namespace: "hotmount-stub" }, (a) => ({
        contents: STUBS[a.path as keyof typeof STUBS],
        loader: "js",
      }));
    },
  };
}

export async function buildOne(opts: BuildOptions, commit = gitCommit()): Promise<BuildResult> {
  const target = opts.target === "host" ? hostTarget() : opts.target;
  const outfile = join(opts.outdir, opts.target === "host" ? "hotmount" : `hotmount-${target}`);
  mkdirSync(opts.outdir, { recursive: true });
  const wantsVz = target.startsWith("darwin");
  const embedded = wantsVz && existsSync(opts.vzDylib) ? [opts.vzDylib] : [];
  // The guest watch helper for every guest architecture (the agent copies it into the guest).
  for (const arch of HELPER_ARCHES) {
    const out = join(opts.outdir, "guest-helper", helperAssetName(arch));
    mkdirSync(dirname(out), { recursive: true });
    compileHelper(arch, out);
    embedded.push(out);
  }
  const t0 = performance.now();
  const result = await Bun.build({
    entrypoints: [opts.entry],
    compile: {
      ...(opts.target === "host" ? {} : { target: TARGETS[opts.target] }),
      outfile,
      assets: embedded,
      // A compiled hotmount runs inside other people's projects: their .env and bunfig.toml
      // must not change what it does (test/unit/build.test.ts proves both are ignored).
      autoloadDotenv: false,
      autoloadBunfig: false,
      autoloadTsconfig: false,
      autoloadPackageJson: false,
    },
    // Bytecode skips parsing at startup: with ink, zod and ssh2 loaded, a cold start measured
    // ~130 ms without it and ~50 ms with it on the 2-core dev VM (the goal is 150 ms).
    bytecode: true,
    format: "esm",
    minify: true,
    sourcemap: "linked",
    define: {
      "process.env.NODE_ENV": JSON.stringify("production"),
      [BUILD_DEFINE_NAMES.commit]: JSON.stringify(commit),
      [BUILD_DEFINE_NAMES.target]: JSON.stringify(target),
    },
    plugins: [stubPlugin()],
    throw: false,
  });
  // The source map is embedded in the binary (stack traces name src/ files); the copy Bun
  // also writes next to it would only be shipped by mistake.
  rmSync(`${outfile}.map`, { force: true });
  if (!result.success) {
    const msgs = result.logs.map((l) => `  ${l.message}${l.position ? ` (${l.position.file}:${l.position.line})` : ""}`);
    throw new Error(`build of ${target} failed:\n${msgs.join("\n")}`);
  }
  const note = wantsVz && !embedded.length ? `no VZ dylib: ${relative(ROOT, opts.vzDylib)} is missing, scripts/build-dylib makes it on macOS` : undefined;
  return { target, outfile, bytes: statSync(outfile).size, ms: performance.now() - t0, embedded, ...(note ? { note } : {}) };
}

function parseCli(argv: string[]): BuildOptions[] {
  const { values } = parseArgs({
    args: argv,
    options: {
      host: { type: "boolean" },
      target: { type: "string", multiple: true },
      outdir: { type: "string", default: join(ROOT, "dist") },
      entry: { type: "string", default: join(ROOT, "src/main.ts") },
      "vz-dylib": { type: "string", default: join(ROOT, "dist/vz/libhotmount-vz.dylib") },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    console.log("usage: bun scripts/build.ts [--host | --target T ...] [--outdir D] [--entry F]");
    console.log(`targets: host ${Object.keys(TARGETS).join(" ")}`);
    process.exit(0);
  }
  const names = values.host ? ["host"] : (values.target ?? ["host", ...Object.keys(TARGETS)]);
  for (const n of names) {
    if (n !== "host" && !(n in TARGETS)) {
      throw new Error(`unknown target "${n}"; known: host ${Object.keys(TARGETS).join(" ")}`);
    }
  }
  const outdir = resolve(values.outdir);
  const entry = resolve(values.entry);
  if (!existsSync(entry)) throw new Error(`entry point ${relative(ROOT, entry) || entry} does not exist`);
  const vzDylib = resolve(values["vz-dylib"]);
  return names.map((target) => ({ target: target as BuildOptions["target"], outdir, entry, vzDylib }));
}

if (import.meta.main) {
  try {
    const jobs = parseCli(Bun.argv.slice(2));
    const commit = gitCommit();
    // One at a time: each compile holds a whole runtime in memory, and cross builds may
    // download one first; in parallel they only compete for the same cores.
    for (const job of jobs) {
      const r = await buildOne(job, commit);
      const mib = (r.bytes / 1048576).toFixed(1);
      const extra = [...r.embedded.map((f) => `embeds ${relative(ROOT, f)}`), ...(r.note ? [r.note] : [])];
      console.log(`${relative(process.cwd(), r.outfile)}  ${r.target}  ${mib} MiB  ${(r.ms / 1000).toFixed(1)} s${extra.map((e) => `  [${e}]`).join("")}`);
    }
  } catch (e) {
    console.error(`build: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
}
