// `hotmount shell NAME [CMD ARGS...]`: OpenSSH's client, for a real terminal. As with ssh,
// `limactl shell` and `docker exec`, everything after the instance name is the command and its
// options (a leading `--` is accepted and dropped).
import type { Command } from "commander";
import { cliClient } from "../cli-client.ts";
import { runAction } from "../output.ts";

export function register(program: Command): void {
  program
    .command("shell")
    .argument("<name>", "a running instance")
    .argument("[cmd...]", "a command to run instead of a login shell, with its own options")
    .description("open a shell in the VM, or run one command there")
    .passThroughOptions()
    .allowUnknownOption()
    .addHelpText("after", "\nExamples:\n  hotmount shell dev\n  hotmount shell dev ls -la /mnt\n  hotmount shell dev sh -c 'echo hi > /mnt/x/f'\n")
    .action((name: string, args: string[]) =>
      runAction(false, async () => {
        const cmd = args[0] === "--" ? args.slice(1) : args;
        const { joinArgv } = await import("../../core/shell-quote.ts");
        const { HotmountError } = await import("../../core/errors.ts");
        const s = await (await cliClient()).summary(name);
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
      }),
    );
}
