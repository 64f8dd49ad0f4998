// The compiled binary: builds the host target once with scripts/build.ts, then checks
// what an embedder relies on: `version --json`, that a .env or bunfig.toml in the working
// directory changes nothing, and that docs/api.schema.json is current and the check catches a
// type change. The cross targets are not built here (each is ~100 MiB); `bun run build` does.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "../..");
const dir = mkdtempSync(join(tmpdir(), "hm-build-"));
const out = join(dir, "dist");
const bin = join(out, "hotmount");
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };

beforeAll(() => {
  const r = Bun.spawnSync(["bun", join(ROOT, "scripts/build.ts"), "--host", "--outdir", out], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`build failed:\n${r.stdout}${r.stderr}`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs an executable with a clean environment: no HOTMOUNT_* variables unless given. */
function run(argv: string[], opts: { cwd?: string; env?: Record<string, string> } = {}) {
  const home = join(dir, "user-home");
  mkdirSync(home, { recursive: true });
  const r = Bun.spawnSync(argv, {
    cwd: opts.cwd ?? dir,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, ...opts.env },
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString(), home };
}

test("the binary prints its version, commit, Bun version and target", () => {
  const r = run([bin, "version", "--json"]);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  const v = JSON.parse(r.stdout);
  expect(v).toMatchObject({ version: pkg.version, bun: Bun.version, target: `${process.platform}-${process.arch}`, compiled: true });
  expect(v.commit).toMatch(/^([0-9a-f]{12}(-dirty)?|unknown)$/);
  expect(run([bin, "version"]).stdout).toBe(`hotmount ${pkg.version} (commit ${v.commit}, bun ${Bun.version}, ${v.target})\n`);
});

test("from source the commit reads dev", () => {
  const v = JSON.parse(run([join(ROOT, "hotmount"), "version", "--json"]).stdout);
  expect(v).toMatchObject({ version: pkg.version, commit: "dev", compiled: false });
});

// A .env and a bunfig.toml whose preload would both set HOTMOUNT_HOME; `version --json`
// reports the state root the process resolved, which must stay the default.
function hostileCwd(): string {
  const cwd = join(dir, "hostile-cwd");
  mkdirSync(cwd, { recursive: true });
  writeFileSync(join(cwd, ".env"), "HOTMOUNT_HOME=/nonexistent-dotenv\nHOTMOUNT_CACHE=/nonexistent-dotenv\n");
  writeFileSync(
    join(cwd, "preload.js"),
    `process.env.HOTMOUNT_HOME = "/nonexistent-bunfig";\nrequire("fs").writeFileSync(${JSON.stringify(join(cwd, "preload-ran"))}, "");\n`,
  );
  writeFileSync(join(cwd, "bunfig.toml"), 'preload = ["./preload.js"]\n');
  return cwd;
}

test("a .env or bunfig.toml in the working directory is ignored", () => {
  const cwd = hostileCwd();
  const r = run([bin, "version", "--json"], { cwd });
  expect(r.code).toBe(0);
  const v = JSON.parse(r.stdout);
  expect(v.home).toBe(join(r.home, ".hotmount"));
  expect(v.cache).toBe(join(r.home, ".cache", "hotmount"));
  expect(existsSync(join(cwd, "preload-ran"))).toBe(false);
  // The variables still work when really set in the environment.
  expect(JSON.parse(run([bin, "version", "--json"], { cwd, env: { HOTMOUNT_HOME: "/from-env" } }).stdout).home).toBe("/from-env");
});

test("control: a binary compiled with Bun's defaults does read them, so the test above can fail", async () => {
  const cwd = hostileCwd();
  rmSync(join(cwd, "preload-ran"), { force: true });
  const entry = join(dir, "control.ts");
  writeFileSync(entry, "console.log(process.env.HOTMOUNT_HOME ?? '');\n");
  const r = await Bun.build({ entrypoints: [entry], compile: { outfile: join(out, "control") }, throw: false });
  expect(r.success).toBe(true);
  expect(run([join(out, "control")], { cwd }).stdout.trim()).toBe("/nonexistent-bunfig");
  expect(existsSync(join(cwd, "preload-ran"))).toBe(true);
  rmSync(join(cwd, "bunfig.toml"));
  expect(run([join(out, "control")], { cwd }).stdout.trim()).toBe("/nonexistent-dotenv");
  rmSync(join(out, "control"), { force: true });
});

test("`mount list --json` runs from the binary against an empty HOTMOUNT_HOME", () => {
  const r = run([bin, "mount", "list", "--json"], { env: { HOTMOUNT_HOME: join(dir, "empty-home") } });
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout)).toEqual([]);
});

test("the build script refuses an unknown target", () => {
  const r = run(["bun", join(ROOT, "scripts/build.ts"), "--target", "windows-x64"]);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain('unknown target "windows-x64"');
});

test("docs/api.schema.json is generated from the current types", () => {
  const r = run(["bun", join(ROOT, "scripts/gen-schema.ts"), "--check"], { cwd: ROOT });
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
});

test("the schema check fails when a type changes without regenerating", () => {
  // A copy of the API module with one new field on Mount, next to a copy of the committed
  // schema; node_modules is linked so the copy resolves zod. The real files are untouched.
  // api.ts builds on src/core/ (model, errors), so the copy sits at the same depth beside a link to it.
  const work = join(dir, "schema-change");
  mkdirSync(join(work, "src/agent"), { recursive: true });
  symlinkSync(join(ROOT, "node_modules"), join(work, "node_modules"));
  symlinkSync(join(ROOT, "src/core"), join(work, "src/core"));
  const api = readFileSync(join(ROOT, "src/agent/api.ts"), "utf8");
  const changed = api.replace(/export const Mount = z\.object\(\{\n/, "$&  addedWithoutRegenerating: z.string(),\n");
  expect(changed).not.toBe(api);
  writeFileSync(join(work, "src/agent/api.ts"), api);
  writeFileSync(join(work, "src/agent/api-changed.ts"), changed);
  cpSync(join(ROOT, "docs/api.schema.json"), join(work, "api.schema.json"));
  const check = (file: string) =>
    run(["bun", join(ROOT, "scripts/gen-schema.ts"), "--check", "--api", join(work, "src/agent", file), "--out", join(work, "api.schema.json")]);
  expect(check("api.ts").code).toBe(0);
  const r = check("api-changed.ts");
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("is stale: Mount changed");
  expect(r.stderr).toContain("bun scripts/gen-schema.ts");
});
