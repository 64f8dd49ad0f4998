// `hotmount tui` (and bare `hotmount` on a terminal): the full-screen view.
import type { Command } from "commander";
import { runAction } from "../output.ts";

export function register(program: Command): void {
  program
    .command("tui")
    .description("open the full-screen interactive view of instances and mounts")
    .action(() => runAction(false, runTuiCommand));
}

export async function runTuiCommand(): Promise<void> {
  const { runTui } = await import("../../../ui/index.tsx");
  const { agentRestartedNote, localClient } = await import("../../client/local-client.ts");
  const listeners = new Set<(text: string) => void>();
  const client = localClient({
    onAgentRestarted: (i) => listeners.forEach((show) => show(agentRestartedNote(i))),
  });
  await runTui(client, {
    notices: (show) => {
      listeners.add(show);
      return () => listeners.delete(show);
    },
  });
}
