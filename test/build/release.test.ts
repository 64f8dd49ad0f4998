// The release artifacts, checked from the artifacts alone (not the source tree): runs
// scripts/release once for linux-x64 (the other targets only differ in Bun's runtime; the full
// `bun run release` makes all four), then verifies SHA256SUMS, installs the .deb into an empty
// root with `dpkg --root` (a fresh dpkg database, no chroot: the binary needs only glibc, which
// the host has) and the npm tarballs with `npm i -g --prefix` (offline, local tarballs only),
// and runs `version --json` and `doctor --json` from each install, and a demo mount (boot, add,
// bytes both ways, remove, stop) from each. Completions are loaded by
// bash, zsh and fish; the man page is rendered by man. ~1.5 min, mostly xz compressing the .deb.
// HOTMOUNT_RELEASE_DIR=dist/release checks an existing release instead of making one.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = join(import.meta.dir, "../..");
const dir = mkdtempSync(join(tmpdir(), "hm-release-"));
const rel = process.env.HOTMOUNT_RELEASE_DIR ? resolve(process.env.HOTMOUNT_RELEASE_DIR) : join(dir, "release");
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
const V = pkg.version;
const debRoot = join(dir, "deb-root");
const npmPrefix = join(dir, "npm-prefix");
const has = (cmd: string) => Bun.spawnSync(["sh", "-c", `command -v ${cmd}`]).exitCode === 0;

/** Runs with a clean environment and a private HOTMOUNT_HOME, from the temp folder. */
function run(argv: string[], opts: { cwd?: string; env?: Record<string, string> } = {}) {
  const home = join(dir, "user-home");
  mkdirSync(home, { recursive: true });
  const r = Bun.spawnSync(argv, {
    cwd: opts.cwd ?? dir,
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: home,
      HOTMOUNT_HOME: join(home, ".hotmount"),
      ...opts.env,
    },
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

beforeAll(() => {
  if (process.env.HOTMOUNT_RELEASE_DIR) return;
  const r = Bun.spawnSync(["bun", join(ROOT, "scripts/release.ts"), "--targets", "linux-x64", "--outdir", rel], {
    cwd: ROOT,
    stdout: "pipe",
    stderr: "pipe",
  });
  console.log(r.stdout.toString().trimEnd());
  if (r.exitCode !== 0) throw new Error(`release failed:\n${r.stdout}${r.stderr}`);
}, 240_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("SHA256SUMS lists every artifact and they all check out", () => {
  const r = run(["sha256sum", "-c", "SHA256SUMS"], { cwd: rel });
  expect(r.code).toBe(0);
  const names = readFileSync(join(rel, "SHA256SUMS"), "utf8")
    .trim()
    .split("\n")
    .map((l) => l.split(/\s+\*?/)[1]);
  expect(names).toContain("hotmount-linux-x64");
  expect(names).toContain(`hotmount_${V}_amd64.deb`);
  expect(names).toContain(`npm/hotmount-${V}.tgz`);
  expect(names).toContain(`npm/hotmount-linux-x64-${V}.tgz`);
});

const deb = () => join(rel, `hotmount_${V}_amd64.deb`);

test("the .deb says what it is and holds the binary, completions and man page", () => {
  const info = run(["dpkg-deb", "--info", deb()]);
  expect(info.code).toBe(0);
  expect(info.stdout).toContain("Package: hotmount");
  expect(info.stdout).toContain(`Version: ${V}`);
  expect(info.stdout).toContain("Architecture: amd64");
  expect(info.stdout).toMatch(/Recommends:.*qemu-system-x86.*virtiofsd.*openssh-sftp-server/);
  const contents = run(["dpkg-deb", "--contents", deb()]).stdout;
  for (const f of [
    "./usr/bin/hotmount",
    "./usr/share/bash-completion/completions/hotmount",
    "./usr/share/zsh/vendor-completions/_hotmount",
    "./usr/share/fish/vendor_completions.d/hotmount.fish",
    "./usr/share/man/man1/hotmount.1.gz",
  ]) {
    expect(contents).toContain(f);
  }
  expect(contents).toMatch(/-rwxr-xr-x root\/root +\d+ .* \.\/usr\/bin\/hotmount/);
});

test("the .deb installs into an empty root with dpkg --root and runs from there", () => {
  // An empty dpkg database: dpkg --root needs var/lib/dpkg/{status,info,updates}. --force-depends
  // because libc6 is not "installed" in that root (the host's glibc is what the binary uses).
  mkdirSync(join(debRoot, "var/lib/dpkg/info"), { recursive: true });
  mkdirSync(join(debRoot, "var/lib/dpkg/updates"), { recursive: true });
  Bun.write(join(debRoot, "var/lib/dpkg/status"), "");
  const i = run(["dpkg", `--root=${debRoot}`, "--force-depends", "--force-not-root", "--log=/dev/null", "-i", deb()]);
  expect(i.stdout).toContain("Setting up hotmount");
  expect(i.code).toBe(0);
  const bin = join(debRoot, "usr/bin/hotmount");
  const v = run([bin, "version", "--json"]);
  expect(v.code).toBe(0);
  expect(JSON.parse(v.stdout)).toMatchObject({ version: V, target: "linux-x64", compiled: true });
  const d = run([bin, "doctor", "--json"]);
  // doctor's exit code says whether this host can run VMs; what matters here is that it ran.
  const doc = JSON.parse(d.stdout) as { checks: { name: string }[] };
  expect(doc.checks.map((c) => c.name)).toContain("qemu");
  console.log(`deb: ${v.stdout.replace(/\s+/g, " ")}\ndeb doctor: exit ${d.code}, ${doc.checks.length} checks`);
}, 60_000);

/** The demo: vm start, mount add, the guest reads and writes, remove, vm stop, with `bin` (and `path`). */
function demoMount(bin: string, label: string, path?: string): void {
  const share = join(dir, `demo-${label}`);
  mkdirSync(share, { recursive: true });
  writeFileSync(join(share, "from-host.txt"), "hello from the host");
  // The guest image is the one the suite has cached (building it again is not this test's subject).
  const env = { HOTMOUNT_CACHE: process.env.HOTMOUNT_CACHE ?? join(homedir(), ".cache", "hotmount"), ...(path && { PATH: path }) };
  const hm = (...args: string[]) => run([bin, ...args], { env });
  const name = `rel${label}`;
  const t0 = Date.now();
  const start = hm("vm", "start", name, "--memory", "384M", "--slots", "1", "--9p-slots", "0");
  try {
    expect(start.stderr + start.stdout).toContain("running");
    expect(start.code).toBe(0);
    expect(hm("mount", "add", name, share, "/mnt/demo", "--writable", "--json").code).toBe(0);
    expect(hm("shell", name, "cat", "/mnt/demo/from-host.txt").stdout).toBe("hello from the host");
    expect(hm("shell", name, "sh", "-c", "echo from the guest > /mnt/demo/from-guest.txt").code).toBe(0);
    expect(readFileSync(join(share, "from-guest.txt"), "utf8")).toBe("from the guest\n");
    expect(hm("mount", "remove", name, "/mnt/demo").code).toBe(0);
    expect(JSON.parse(hm("mount", "list", name, "--json").stdout)).toEqual([]);
  } finally {
    expect(hm("vm", "stop", name).code).toBe(0);
  }
  console.log(`${label} demo mount: ${((Date.now() - t0) / 1000).toFixed(1)} s from vm start to vm stop`);
}

test("a demo mount from the installed .deb's binary: vm start, mount add, the guest reads and writes, remove, vm stop", () => {
  demoMount(join(debRoot, "usr/bin/hotmount"), "deb");
}, 300_000);

test("the installed bash completion loads and registers hotmount", () => {
  const f = join(debRoot, "usr/share/bash-completion/completions/hotmount");
  const r = run(["bash", "-c", `source '${f}' && complete -p hotmount`]);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain("hotmount");
});

test.skipIf(!has("zsh"))("the installed zsh completion loads after compinit", () => {
  const f = join(debRoot, "usr/share/zsh/vendor-completions/_hotmount");
  const r = run(["zsh", "-fc", `autoload -Uz compinit && compinit -u -D && source '${f}' && print -r -- \${_comps[hotmount]}`]);
  expect(r.code).toBe(0);
  expect(r.stdout.trim()).not.toBe("");
});

test.skipIf(!has("fish"))("the installed fish completion loads and completes the subcommands", () => {
  const f = join(debRoot, "usr/share/fish/vendor_completions.d/hotmount.fish");
  const r = run(["fish", "--no-config", "-c", `source '${f}'; complete -C 'hotmount ' | count`]);
  expect(r.code).toBe(0);
  expect(Number(r.stdout.trim())).toBeGreaterThan(10);
});

test.skipIf(!has("man"))("the man page renders and covers the subcommands", () => {
  const r = run(["man", "-l", join(debRoot, "usr/share/man/man1/hotmount.1.gz")], { env: { MANPAGER: "cat", PAGER: "cat", MANWIDTH: "100" } });
  expect(r.code).toBe(0);
  for (const s of ["NAME", "SYNOPSIS", "hotmount mount add", "hotmount vm start", "hotmount completion"]) expect(r.stdout).toContain(s);
  expect(r.stderr).not.toMatch(/warning/i);
});

test("the npm tarballs install with npm i -g --prefix (offline) and run without Bun", () => {
  const main = join(rel, "npm", `hotmount-${V}.tgz`);
  const plat = join(rel, "npm", `hotmount-linux-x64-${V}.tgz`);
  const r = run(["npm", "i", "-g", "--prefix", npmPrefix, "--offline", "--no-audit", "--no-fund", main, plat], {
    env: { npm_config_cache: join(dir, "npm-cache") },
  });
  expect(r.code).toBe(0);
  const manifest = JSON.parse(readFileSync(join(npmPrefix, "lib/node_modules/hotmount/package.json"), "utf8"));
  expect(Object.keys(manifest.optionalDependencies).sort()).toEqual(
    ["@hotmount/darwin-arm64", "@hotmount/darwin-x64", "@hotmount/linux-arm64", "@hotmount/linux-x64"].sort(),
  );
  const platManifest = JSON.parse(readFileSync(join(npmPrefix, "lib/node_modules/@hotmount/linux-x64/package.json"), "utf8"));
  expect(platManifest).toMatchObject({ os: ["linux"], cpu: ["x64"] });
  // No Bun on PATH (node alone, which the launcher's #! finds): node runs the launcher, which
  // runs the native binary.
  const nodeOnly = join(dir, "node-only");
  mkdirSync(nodeOnly, { recursive: true });
  symlinkSync(Bun.which("node")!, join(nodeOnly, "node"));
  const path = `${join(npmPrefix, "bin")}:${nodeOnly}`;
  expect(Bun.which("bun", { PATH: path })).toBeNull();
  const v = run(["hotmount", "version", "--json"], { env: { PATH: path } });
  expect(v.stderr).toBe("");
  expect(v.code).toBe(0);
  expect(JSON.parse(v.stdout)).toMatchObject({ version: V, target: "linux-x64", compiled: true });
  // doctor looks for qemu, virtiofsd etc. on PATH, so it gets the host's PATH after the install.
  const d = run(["hotmount", "doctor", "--json"], { env: { PATH: `${path}:${process.env.PATH}` } });
  expect((JSON.parse(d.stdout) as { checks: unknown[] }).checks.length).toBeGreaterThan(0);
  // An exit code passes through the launcher unchanged (2: usage error).
  expect(run(["hotmount", "no-such-command"], { env: { PATH: path } }).code).toBe(run([join(rel, "hotmount-linux-x64"), "no-such-command"]).code);
  console.log(`npm: ${v.stdout.replace(/\s+/g, " ")}\nnpm doctor: exit ${d.code}`);
}, 120_000);

test("a demo mount through the npm-installed launcher", () => {
  demoMount(join(npmPrefix, "bin", "hotmount"), "npm", `${join(npmPrefix, "bin")}:${process.env.PATH}`);
}, 300_000);

test("the npm launcher says what is missing when no platform package is installed", () => {
  const lone = join(dir, "npm-lone");
  const r = run(["npm", "i", "-g", "--prefix", lone, "--offline", "--no-audit", "--no-fund", join(rel, "npm", `hotmount-${V}.tgz`)], {
    env: { npm_config_cache: join(dir, "npm-cache") },
  });
  expect(r.code).toBe(0);
  expect(existsSync(join(lone, "lib/node_modules/@hotmount"))).toBe(false);
  const v = run([join(lone, "bin/hotmount"), "version"]);
  expect(v.code).toBe(1);
  expect(v.stderr).toContain("@hotmount/linux-x64 is missing");
  expect(readdirSync(join(lone, "bin"))).toEqual(["hotmount"]);
}, 60_000);
