// The command tree. Each command lives in its own module and imports its heavy parts lazily,
// so `hotmount mount list --json` starts fast.
import { Command, CommanderError } from "commander";
import { register as agent } from "./commands/agent.ts";
import { register as bench } from "./commands/bench.ts";
import { register as completion } from "./commands/completion.ts";
import { register as doctor } from "./commands/doctor.ts";
import { register as libvirt } from "./commands/libvirt.ts";
import { register as mount } from "./commands/mount.ts";
import { register as qemuWrap } from "./commands/qemu-wrap.ts";
import { register as run } from "./commands/run.ts";
import { register as shell } from "./commands/shell.ts";
import { register as tui } from "./commands/tui.ts";
import { register as version } from "./commands/version.ts";
import { register as vm } from "./commands/vm.ts";

export function buildProgram(): Command {
  const program = new Command("hotmount")
    .description(
      "Mount a host folder into a running Linux VM, and take it out again, with no restart.\nRun with no arguments in a terminal for the interactive view.",
    )
    .addHelpText(
      "after",
      `
Quick start:
  hotmount vm start dev                      boot the demo VM
  hotmount mount add dev ~/project --writable
  hotmount shell dev ls ~/project
  hotmount mount remove dev ~/project
  hotmount vm stop dev

State lives in $HOTMOUNT_HOME (default ~/.hotmount). Exit codes: docs/embedding.md.`,
    )
    .showHelpAfterError("(add --help for usage)")
    // Options after a subcommand are that subcommand's: `shell`, `run` and `qemu-wrap` pass a
    // command line on with its own options.
    .enablePositionalOptions()
    .exitOverride();
  for (const r of [vm, mount, shell, doctor, bench, run, qemuWrap, libvirt, tui, version, completion, agent]) r(program);
  return program;
}

export { CommanderError };
