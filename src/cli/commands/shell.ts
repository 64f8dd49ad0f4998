// `hotmount shell NAME [-- CMD...]`: OpenSSH's client, for a real terminal.
import type { Command } from "commander";
import { fail } from "../output.ts";

export function register(program: Command): void {
  program
    .command("shell")
    .argument("<name>", "a running instance")
    .argument("[cmd...]", "a command to run instead of a login shell (put it after --)")
    .description("open a shell in the VM, or run one command there")
    .addHelpText("after", "\nExamples:\n  hotmount shell dev\n  hotmount shell dev -- ls -la /mnt\n")
    .action(async (name: string, cmd: string[]) => {
      try {
        const { summarize } = await import("../../client/instances.ts");
        const { joinArgv } = await import("../../core/shell-quote.ts");
        const { HotmountError } = await import("../../core/errors.ts");
        const s = await summarize(name);
        if (!s.ssh) throw new HotmountError("INSTANCE_NOT_RUNNING", `instance "${name}" is not running`, { hint: `Start it: hotmount vm start ${name}` });
        const argv = [
          "ssh",
          "-q",
          "-i",
          s.ssh.identityFile,
          "-p",
          String(s.ssh.port),
          "-o",
          "StrictHostKeyChecking=no",
          "-o",
          "UserKnownHostsFile=/dev/null",
          "-o",
          "LogLevel=ERROR",
          ...(cmd.length ? [] : ["-t"]),
          `${s.ssh.user}@${s.ssh.host}`,
        ];
        if (cmd.length) argv.push("--", joinArgv(cmd));
        const p = Bun.spawn(argv, { stdio: ["inherit", "inherit", "inherit"] });
        process.exit(await p.exited);
      } catch (e) {
        fail(e, false);
      }
    });
}
