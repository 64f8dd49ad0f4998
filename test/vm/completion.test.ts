// Shell completion: the scripts are generated from a commander tree shaped like hotmount's and
// run in real bash, zsh and fish against a stub `hotmount` on PATH, which prints canned
// (pretty-printed) --json and logs how it was called. zsh's completion builtins only exist
// inside the line editor, so the zsh test stands in small recorders for them that filter by
// the word being completed, as the real ones do.
import { afterAll, describe, expect, test } from "bun:test";
import { Command, Option } from "commander";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { commandSpecs, completionScript, kindFor, register } from "../../src/cli/commands/completion.ts";
import { hmOk } from "../helpers/cli.ts";

const dir = mkdtempSync(join(tmpdir(), "hm-completion-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function fixtureProgram(): Command {
  const program = new Command("hotmount").exitOverride().configureOutput({ writeErr: () => {} });
  const vm = program.command("vm").description("manage VMs");
  vm.command("start <name>").description("boot a VM").option("--memory <size>").option("--kernel <file>");
  vm.command("stop <name>").description("stop a VM");
  vm.command("list").option("--json");
  const mount = program.command("mount").description("manage mounts");
  mount
    .command("add <instance> <hostdir> [guestdir]")
    .description("hot-mount a folder")
    .addOption(new Option("--type <type>").choices(["virtiofs", "9p", "reverse-sshfs"]))
    .option("--writable");
  mount.command("remove <instance> <guestdir|id>").alias("rm").description("remove a mount").option("--force");
  mount.command("list [instance]").option("--json");
  program.command("shell <name> [cmd...]");
  program.command("agent <name>", { hidden: true });
  register(program);
  return program;
}

const INSTANCES = [
  { name: "dev", driver: "qemu", state: "running" },
  { name: "build-box", driver: "qemu", state: "stopped" },
];
const MOUNTS = [
  { id: "m1", instance: "dev", mountPoint: "/mnt/with space" },
  { id: "m2", instance: "dev", mountPoint: '/srv/q"uote' },
];
const bin = join(dir, "bin");
const callLog = join(dir, "calls.log");
Bun.spawnSync(["mkdir", "-p", bin]);
writeFileSync(
  join(bin, "hotmount"),
  `#!/bin/sh
echo "$*" >> '${callLog}'
case "$*" in
  "vm list --json") cat <<'EOF'
${JSON.stringify(INSTANCES, null, 2)}
EOF
  ;;
  "mount list dev --json") cat <<'EOF'
${JSON.stringify(MOUNTS, null, 2)}
EOF
  ;;
  *) echo "[]" ;;
esac
`,
);
chmodSync(join(bin, "hotmount"), 0o755);
const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, HOME: dir };
for (const f of ["hostdir-a", "hostdir-b"]) Bun.spawnSync(["mkdir", "-p", join(dir, f)]);

const program = fixtureProgram();
const scripts = Object.fromEntries(
  (["bash", "zsh", "fish"] as const).map((s) => {
    const path = join(dir, `hotmount.${s}`);
    writeFileSync(path, completionScript(s, program));
    return [s, path];
  }),
) as Record<"bash" | "zsh" | "fish", string>;

// scripts/setup installs bash, zsh and fish (scripts/deps/host.txt): a missing shell is a set-up
// failure, not a reason to skip.
for (const sh of ["bash", "zsh", "fish"])
  if (!Bun.which(sh)) throw new Error(`${sh} is not installed: run ./scripts/setup (it installs the shells these tests run)`);
function run(argv: string[]): string {
  const r = Bun.spawnSync(argv, { env, cwd: dir, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr.toString()}`);
  return r.stdout.toString();
}

/** One completion per line: the candidates, "|"-joined, for the words typed (last one partial). */
type Shell = (lines: string[][]) => string[];
const shells: Record<string, Shell> = {
  bash: (lines) =>
    run([
      "bash",
      "--norc",
      "-c",
      `source ${scripts.bash}
t() { COMP_WORDS=("$@"); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); COMPREPLY=(); _hotmount
  local IFS='|'; echo "\${COMPREPLY[*]}"; }
${lines.map((l) => `t ${l.map(sq).join(" ")}`).join("\n")}`,
    ])
      .trimEnd()
      .split("\n"),
  zsh: (lines) =>
    run([
      "zsh",
      "-f",
      "-c",
      `compdef() { :; }
keep() { local e; for e in "$@"; do [[ $e == "\${words[CURRENT]}"* ]] && print -rn -- "$e|"; done; }
compadd() { local -a a; while [[ $1 == -* ]]; do if [[ $1 == -a ]]; then a=(\${(P)2}); shift 2; else shift; fi; done; keep "\${a[@]}" "$@"; }
_describe() { keep "\${(@)\${(P)\${@[-1]}}%%:*}"; }
_files() { print -rn -- "<files $*>"; }
compset() { :; }
source ${scripts.zsh}
t() { words=("$@"); CURRENT=\${#words}; _hotmount; print; }
${lines.map((l) => `t ${l.map(sq).join(" ")}`).join("\n")}`,
    ])
      .trimEnd()
      .split("\n"),
  fish: (lines) =>
    run([
      "fish",
      "--no-config",
      "-c",
      `source ${scripts.fish}
${lines.map((l) => `echo (complete -C${sq(l.join(" "))} | string replace -r '\\t.*' '' | string join '|')`).join("\n")}`,
    ])
      .trimEnd()
      .split("\n"),
};
const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const sorted = (s: string) => s.split("|").filter(Boolean).sort().join("|");

// [words typed, expected candidates]; the same expectations hold in every shell.
const CASES: [string[], string][] = [
  [["hotmount", ""], "completion|help|mount|shell|vm"],
  [["hotmount", "mo"], "mount"],
  [["hotmount", "mount", ""], "add|help|list|remove"],
  [["hotmount", "vm", "stop", ""], "build-box|dev"],
  [["hotmount", "mount", "rm", "d"], "dev"],
  [["hotmount", "mount", "remove", "dev", ""], '/mnt/with space|/srv/q"uote'],
  [["hotmount", "mount", "rm", "dev", "/m"], "/mnt/with space"],
  [["hotmount", "mount", "add", "--type", ""], "9p|reverse-sshfs|virtiofs"],
  [["hotmount", "mount", "add", "--type", "9p", "dev", "--"], "--help|--type|--writable"],
  [["hotmount", "completion", ""], "bash|fish|zsh"],
  [["hotmount", "mount", "add", "dev", "hostdir-a", ""], ""],
  [["hotmount", "shell", "dev", "--", ""], ""],
];

describe.each(Object.keys(shells))("%s completion", (shell) => {
  test("completes subcommands, options, instances and mount points", () => {
    writeFileSync(callLog, "");
    const got = shells[shell]!(CASES.map(([w]) => w));
    const want = CASES.map(([w, c]) => `${w.join(" ")} => ${sorted(c)}`);
    expect(CASES.map(([w], i) => `${w.join(" ")} => ${sorted(got[i] ?? "")}`)).toEqual(want);
    // Mount points came from the instance typed earlier, through the JSON the CLI prints.
    expect(readFileSync(callLog, "utf8")).toContain("mount list dev --json");
  });

  test("a host directory argument completes directories", () => {
    const [line] = shells[shell]!([["hotmount", "mount", "add", "dev", "hostdir-"]]);
    if (shell === "zsh")
      expect(line).toBe("<files -/>"); // zsh's own _files does the listing
    else expect(sorted(line!.replaceAll(`${dir}/`, "").replaceAll("/", ""))).toBe("hostdir-a|hostdir-b");
  });
});

test("the generated scripts parse in each shell", () => {
  expect(Bun.spawnSync(["bash", "-n", scripts.bash]).exitCode).toBe(0);
  expect(Bun.spawnSync(["zsh", "-n", scripts.zsh]).exitCode).toBe(0);
  expect(Bun.spawnSync(["fish", "--no-execute", scripts.fish]).exitCode).toBe(0);
});

test("the spec follows the command tree: hidden commands stay hidden, aliases resolve", () => {
  const specs = commandSpecs(fixtureProgram());
  const root = specs.find((s) => s.path === "")!;
  expect(root.subs.map((s) => s.name)).not.toContain("agent");
  expect(specs.find((s) => s.path === "mount")!.subs.find((s) => s.name === "remove")!.aliases).toEqual(["rm"]);
  expect(specs.find((s) => s.path === "mount add")!.args).toEqual(["instance", "dir", "any"]);
  expect(specs.find((s) => s.path === "shell")!.args).toEqual(["instance", "any..."]);
});

test("argument names pick what they complete to", () => {
  expect([kindFor("instance"), kindFor("NAME"), kindFor("GUESTDIR|ID"), kindFor("mount-point"), kindFor("target")]).toEqual([
    "instance",
    "instance",
    "mount",
    "mount",
    "mount",
  ]);
  expect(kindFor("guestdir")).toBe("any");
  expect([kindFor("hostdir"), kindFor("kernel"), kindFor("size"), kindFor("x", ["a", "b"])]).toEqual(["dir", "file", "any", "words:a|b"]);
});

test("`completion` refuses an unknown shell", () => {
  expect(() => fixtureProgram().parse(["completion", "tcsh"], { from: "user" })).toThrow(/tcsh/);
});

// The real CLI's own tree (from source, or the binary under HOTMOUNT_BIN): scripts that parse,
// know its commands, and complete instances and mount points where its arguments take them.
test.each(["bash", "zsh", "fish"])("the real hotmount prints a %s script for its commands", async (shell) => {
  const r = await hmOk(["completion", shell]);
  const path = join(dir, `real.${shell}`);
  writeFileSync(path, r.stdout);
  const syntax = { bash: ["bash", "-n"], zsh: ["zsh", "-n"], fish: ["fish", "--no-execute"] }[shell]!;
  expect(Bun.spawnSync([...syntax, path]).exitCode).toBe(0);
  if (shell !== "bash") return;
  expect(r.stdout).toContain("complete -F _hotmount hotmount");
  expect(r.stdout).toContain("'mount remove') __hm_subs=(); __hm_opts=(");
  expect(r.stdout).toContain("__hm_args=('instance' 'mount')");
  expect(r.stdout).toContain("'vm stop') __hm_subs=(); __hm_opts=(");
});
