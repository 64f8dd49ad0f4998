// `hotmount tui` (and bare `hotmount` on a terminal): the full-screen view.
import type { Command } from "commander";
import { fail } from "../output.ts";

export function register(program: Command): void {
  program
    .command("tui")
    .description("open the full-screen interactive view of instances and mounts")
    .action(async () => {
      try {
        await runTuiCommand();
      } catch (e) {
        fail(e, false);
      }
    });
}

export async function runTuiCommand(): Promise<void> {
  const { runTui } = await import("../../../ui/index.tsx");
  const { localClient } = await import("../../client/local-client.ts");
  await runTui(localClient());
}
