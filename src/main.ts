// hotmount's entry point: bare on a terminal opens the TUI; otherwise the CLI.
import { buildProgram, CommanderError } from "./cli/program.ts";

async function main(argv: string[]): Promise<void> {
  const args = argv.slice(2);
  if (args.length === 0 && process.stdout.isTTY && process.stdin.isTTY) {
    const { runTuiCommand } = await import("./cli/commands/tui.ts");
    return runTuiCommand();
  }
  const program = buildProgram();
  if (args.length === 0) {
    program.outputHelp();
    return;
  }
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : 2);
    const { fail } = await import("./cli/output.ts");
    fail(e, argv.includes("--json"));
  }
}

await main(process.argv);
