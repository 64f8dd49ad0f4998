// `hotmount completion bash|zsh|fish`. The scripts are generated from the live commander tree,
// so a new subcommand or option completes without touching this file. Instance names and mount
// points are looked up when TAB is pressed by running the same binary the user typed
// (`vm list --json`, `mount list INSTANCE --json`) and picking fields out with grep/sed, which
// every bash, zsh and fish host has (GNU and BSD alike); no jq.
//
// What an argument completes to follows from its name, so CLI authors pick it by naming:
//   instance, name, vm               -> instance names
//   target, mount-point, id, ...|id  -> mount points of the instance given earlier
//   guestdir                         -> nothing (a new guest path; there is nothing to list)
//   hostdir, dir, folder, source     -> directories
//   file, path, kernel, initrd, image -> files
//   choices (Argument/Option .choices) -> those words
import { Argument, type Command } from "commander";

export const SHELLS = ["bash", "zsh", "fish"] as const;
export type Shell = (typeof SHELLS)[number];

/** "instance" | "mount" | "dir" | "file" | "any" | "words:a|b|c". */
type Kind = string;
interface SubSpec {
  name: string;
  aliases: string[];
  desc: string;
}
interface OptSpec {
  flags: string[];
  desc: string;
  value: Kind | null;
}
export interface CmdSpec {
  path: string;
  subs: SubSpec[];
  opts: OptSpec[];
  /** One kind per positional argument; the last ends in "..." when variadic. */
  args: Kind[];
}

export function kindFor(name: string, choices?: readonly string[]): Kind {
  if (choices?.length) return `words:${choices.join("|")}`;
  const n = name.toLowerCase().replace(/[^a-z]/g, "");
  if (/^(instance|instancename|name|vm)$/.test(n)) return "instance";
  if (/mountpoint|target|id$/.test(n)) return "mount";
  if (/guest/.test(n)) return "any";
  if (/host|dir|folder|source/.test(n)) return "dir";
  if (/file|path|kernel|initrd|image/.test(n)) return "file";
  return "any";
}

/** Flattens the visible command tree (hidden commands, like the agent, stay hidden). */
export function commandSpecs(program: Command): CmdSpec[] {
  const help = program.createHelp();
  const out: CmdSpec[] = [];
  const walk = (cmd: Command, path: string) => {
    const subs = help.visibleCommands(cmd);
    out.push({
      path,
      subs: subs.map((c) => ({ name: c.name(), aliases: c.aliases(), desc: c.summary() || c.description() })),
      opts: help.visibleOptions(cmd).map((o) => ({
        flags: [o.short, o.long].filter((f): f is string => !!f),
        desc: o.description,
        value: o.required || o.optional ? kindFor(o.flags.replace(/^.*[<[]([^>\]]+)[>\]].*$/, "$1"), o.argChoices) : null,
      })),
      args: cmd.registeredArguments.map((a) => kindFor(a.name(), a.argChoices) + (a.variadic ? "..." : "")),
    });
    for (const c of subs) if (c.name() !== "help" || c.commands.length) walk(c, path ? `${path} ${c.name()}` : c.name());
  };
  walk(program, "");
  return out;
}

/** Single-quotes for bash, zsh and fish alike (fish also escapes backslash inside quotes). */
const q = (s: string, fish = false) => (fish ? `'${s.replace(/[\\']/g, "\\$&")}'` : `'${s.replace(/'/g, `'\\''`)}'`);
const line1 = (s: string) => s.split("\n")[0]!.trim();

// Shared by the three shells: one field of every object in a --json array, JSON-unescaped
// for the common escapes (\" \\ \/). Instance names and mount points never hold \u escapes
// in practice; if one does, it completes in its escaped form.
const JSON_FIELD = (field: string) =>
  `grep -oE '"${field}"[[:space:]]*:[[:space:]]*"([^"\\\\]|\\\\.)*"' | sed -E 's/^"${field}"[[:space:]]*:[[:space:]]*"//; s/"$//; s/\\\\(["\\\\/])/\\1/g'`;

/** bash and zsh share the table functions: `case` and array syntax are the same in both. */
function posixTables(specs: CmdSpec[], withDesc: boolean): string {
  const spec = specs.map((s) => {
    const subs = s.subs.map((c) => q(withDesc && c.desc ? `${c.name.replace(/:/g, "\\:")}:${line1(c.desc)}` : c.name));
    const opts = s.opts.flatMap((o) => o.flags.map((f) => q(withDesc && o.desc ? `${f}:${line1(o.desc)}` : f)));
    return `    ${q(s.path)}) __hm_subs=(${subs.join(" ")}); __hm_opts=(${opts.join(" ")}); __hm_args=(${s.args.map((a) => q(a)).join(" ")}) ;;`;
  });
  const sub = specs.flatMap((s) => s.subs.map((c) => `    ${[c.name, ...c.aliases].map((n) => q(`${s.path}/${n}`)).join("|")}) __hm_sub=${q(c.name)} ;;`));
  const val = specs.flatMap((s) =>
    s.opts.filter((o) => o.value).map((o) => `    ${o.flags.map((f) => q(`${s.path}/${f}`)).join("|")}) __hm_val=${q(o.value!)} ;;`),
  );
  return `__hotmount_spec() {
  __hm_subs=() __hm_opts=() __hm_args=()
  case "$1" in
${spec.join("\n")}
  esac
}
__hotmount_sub() {
  case "$1/$2" in
${sub.join("\n")}
    *) __hm_sub= ;;
  esac
}
__hotmount_optval() {
  case "$1/$2" in
${val.join("\n")}
    *) __hm_val= ;;
  esac
}
__hotmount_instances() { "$1" vm list --json 2>/dev/null | ${JSON_FIELD("name")}; }
__hotmount_mounts() { "$1" mount list \${2:+"$2"} --json 2>/dev/null | ${JSON_FIELD("mountPoint")}; }
`;
}

// The walk over the words before the cursor, identical in bash and zsh apart from indexing:
// descend into subcommands, skip option values, collect positionals. Sets hp (the command
// path; not "path", which zsh ties to $PATH), pos and dashdash.
const WALK = (first: string, last: string, arr: string) => `  __hotmount_spec ""
  for ((i = ${first}; i < ${last}; i++)); do
    w=\${${arr}[i]}
    if [[ -n $dashdash ]]; then pos+=("$w"); continue; fi
    case $w in
      --) dashdash=1 ;;
      -*=*) ;;
      -*) __hotmount_optval "$hp" "$w"; [[ -n $__hm_val ]] && { ((++i)); [[ \${${arr}[i]} == = ]] && ((++i)); } ;;
      *) __hotmount_sub "$hp" "$w"
         if [[ -n $__hm_sub && \${#pos[@]} -eq 0 ]]; then hp=\${hp:+$hp }$__hm_sub; __hotmount_spec "$hp"
         else pos+=("$w"); fi ;;
    esac
  done`;

function bashScript(specs: CmdSpec[]): string {
  // Written for bash 3.2 too (macOS): no negative indices, no mapfile.
  return `# hotmount completion for bash. Load it with: source <(hotmount completion bash)
${posixTables(specs, false)}
# Keeps the lines of stdin that start with $1; unlike compgen -W it expands nothing, so a
# mount point holding spaces or "$" stays one literal candidate.
__hotmount_filter() { local l; while IFS= read -r l; do [[ $l == "$1"* ]] && COMPREPLY+=("$l"); done; }
_hotmount() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]} bin=\${COMP_WORDS[0]/#\\~/$HOME}
  local hp= w i j n kind= dashdash= __hm_sub __hm_val IFS=$'\\n'
  local -a __hm_subs __hm_opts __hm_args pos=()
${WALK("1", "COMP_CWORD", "COMP_WORDS")}
  COMPREPLY=()
  # bash splits "--type=9p" at "=": the option is then two words back.
  [[ $prev == = ]] && prev=\${COMP_WORDS[COMP_CWORD-2]}
  if [[ $prev == -* && -z $dashdash ]]; then __hotmount_optval "$hp" "$prev"; kind=$__hm_val; fi
  if [[ -z $kind ]]; then
    [[ -n $dashdash ]] && return 0
    if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W "\${__hm_opts[*]}" -- "$cur")); return 0; fi
    if ((\${#__hm_subs[@]} && \${#pos[@]} == 0)); then COMPREPLY=($(compgen -W "\${__hm_subs[*]}" -- "$cur")); return 0; fi
    j=\${#pos[@]} n=\${#__hm_args[@]}
    if ((j < n)); then kind=\${__hm_args[j]}
    elif ((n)) && [[ \${__hm_args[n-1]} == *... ]]; then kind=\${__hm_args[n-1]}; fi
  fi
  case \${kind%...} in
    instance) __hotmount_filter "$cur" < <(__hotmount_instances "$bin") ;;
    mount) w=
      for ((j = 0; j < \${#__hm_args[@]}; j++)); do [[ \${__hm_args[j]} == instance ]] && { w=\${pos[j]}; break; }; done
      __hotmount_filter "$cur" < <(__hotmount_mounts "$bin" "$w") ;;
    dir) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -d -- "$cur")) ;;
    file) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur")) ;;
    words:*) w=\${kind#words:}; COMPREPLY=($(compgen -W "\${w//|/$'\\n'}" -- "$cur")) ;;
  esac
  return 0
}
complete -F _hotmount hotmount
`;
}

function zshScript(specs: CmdSpec[]): string {
  return `#compdef hotmount
# hotmount completion for zsh (after compinit). Load it with: source <(hotmount completion zsh)
# or save it as _hotmount in a directory of $fpath.
${posixTables(specs, true)}
_hotmount() {
  emulate -L zsh
  local cur=\${words[CURRENT]} bin=\${words[1]/#\\~/$HOME} hp= w i j kind= dashdash= __hm_sub __hm_val
  local -a __hm_subs __hm_opts __hm_args pos cands
${WALK("2", "CURRENT", "words")}
  if [[ -z $dashdash && $cur == -*=* ]]; then
    __hotmount_optval "$hp" "\${cur%%=*}"; kind=$__hm_val; compset -P '*='
  elif [[ -z $dashdash && \${words[CURRENT-1]} == -* ]]; then
    __hotmount_optval "$hp" "\${words[CURRENT-1]}"; kind=$__hm_val
  fi
  if [[ -z $kind ]]; then
    [[ -n $dashdash ]] && return 1
    if [[ $cur == -* ]]; then _describe -t options option __hm_opts; return; fi
    if (( \${#__hm_subs} && \${#pos} == 0 )); then _describe -t commands 'hotmount command' __hm_subs; return; fi
    j=$(( \${#pos} + 1 ))
    if (( j <= \${#__hm_args} )); then kind=\${__hm_args[j]}
    elif [[ \${__hm_args[-1]} == *... ]]; then kind=\${__hm_args[-1]}; fi
  fi
  case \${kind%...} in
    instance) cands=(\${(f)"$(__hotmount_instances "$bin")"}); compadd -a cands ;;
    mount) w=
      for ((j = 1; j <= \${#__hm_args}; j++)); do [[ \${__hm_args[j]} == instance ]] && { w=\${pos[j]}; break; }; done
      cands=(\${(f)"$(__hotmount_mounts "$bin" "$w")"}); compadd -a cands ;;
    dir) _files -/ ;;
    file) _files ;;
    words:*) cands=(\${(s:|:)\${kind#words:}}); compadd -a cands ;;
    *) return 1 ;;
  esac
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then _hotmount "$@"; else compdef _hotmount hotmount; fi
`;
}

// Inside fish's single quotes a backslash escapes a backslash, so each one is doubled.
const fishField = (field: string) => JSON_FIELD(field).replace(/\\/g, "\\\\");

function fishScript(specs: CmdSpec[]): string {
  const f = (s: string) => q(s, true);
  const spec = specs.map((s) => {
    const subs = s.subs.map((c) => f(c.desc ? `${c.name}\t${line1(c.desc)}` : c.name));
    const opts = s.opts.flatMap((o) => o.flags.map((fl) => f(o.desc ? `${fl}\t${line1(o.desc)}` : fl)));
    return `        case ${f(s.path)}\n            set subs ${subs.join(" ")}; set opts ${opts.join(" ")}; set args ${s.args.map(f).join(" ")}`;
  });
  const sub = specs.flatMap((s) =>
    s.subs.map((c) => `        case ${[c.name, ...c.aliases].map((n) => f(`${s.path}/${n}`)).join(" ")}\n            echo ${f(c.name)}`),
  );
  const val = specs.flatMap((s) =>
    s.opts.filter((o) => o.value).map((o) => `        case ${o.flags.map((fl) => f(`${s.path}/${fl}`)).join(" ")}\n            echo ${f(o.value!)}`),
  );
  return `# hotmount completion for fish. Load it with: hotmount completion fish | source
# or save it as ~/.config/fish/completions/hotmount.fish
function __hotmount_sub
    switch "$argv[1]/$argv[2]"
${sub.join("\n")}
    end
end
function __hotmount_optval
    switch "$argv[1]/$argv[2]"
${val.join("\n")}
    end
end
function __hotmount_complete
    set -l tokens (commandline -opc)
    set -l cur (commandline -ct)
    set -l bin $tokens[1]
    set -l hp ''
    set -l pos
    set -l skip 0
    set -l dashdash 0
    for w in $tokens[2..-1]
        if test $skip = 1; set skip 0; continue; end
        if test $dashdash = 1; set -a pos $w; continue; end
        switch $w
            case --
                set dashdash 1
            case '-*=*'
            case '-*'
                set -l v (__hotmount_optval "$hp" $w)
                test -n "$v"; and set skip 1
            case '*'
                set -l s (__hotmount_sub "$hp" $w)
                if test -n "$s"; and test (count $pos) -eq 0
                    set hp (string trim -- "$hp $s")
                else
                    set -a pos $w
                end
        end
    end
    set -l subs; set -l opts; set -l args
    switch "$hp"
${spec.join("\n")}
    end
    set -l kind
    if test $dashdash = 0; and string match -q -- '-*' $tokens[-1]; and test (count $tokens) -gt 1
        set kind (__hotmount_optval "$hp" $tokens[-1])
    end
    if test -z "$kind"
        test $dashdash = 1; and return
        if string match -q -- '-*' $cur; printf '%s\\n' $opts; return; end
        if test (count $subs) -gt 0; and test (count $pos) -eq 0; printf '%s\\n' $subs; return; end
        set -l j (math (count $pos) + 1)
        if test $j -le (count $args); set kind $args[$j]
        else if test (count $args) -gt 0; and string match -q -- '*...' $args[-1]; set kind $args[-1]; end
    end
    switch (string replace -r '\\.\\.\\.$' '' -- "$kind")
        case instance
            $bin vm list --json 2>/dev/null | ${fishField("name")}
        case mount
            set -l inst
            for j in (seq (count $args)); if test "$args[$j]" = instance; set inst $pos[$j]; break; end; end
            $bin mount list $inst --json 2>/dev/null | ${fishField("mountPoint")}
        case dir
            __fish_complete_directories "$cur"
        case file
            __fish_complete_path "$cur"
        case 'words:*'
            string split '|' -- (string replace 'words:' '' -- $kind)
    end
end
complete -c hotmount -e
complete -c hotmount -f -a '(__hotmount_complete)'
`;
}

export function completionScript(shell: Shell, program: Command): string {
  const specs = commandSpecs(program);
  return shell === "bash" ? bashScript(specs) : shell === "zsh" ? zshScript(specs) : fishScript(specs);
}

export function register(program: Command): void {
  program
    .command("completion")
    .description("print a shell completion script (bash, zsh or fish)")
    .addArgument(new Argument("<shell>", "bash, zsh or fish").choices(SHELLS))
    .addHelpText(
      "after",
      `
Load it in the current shell:
  bash: source <(hotmount completion bash)
  zsh:  source <(hotmount completion zsh)
  fish: hotmount completion fish | source
Instance names and mount points complete by running hotmount itself when TAB is pressed.`,
    )
    .action((shell: Shell) => {
      process.stdout.write(completionScript(shell, program));
    });
}
