// `hotmount agent NAME`: started by `vm start`, not by hand.
import type { Command } from "commander";

export function register(program: Command): void {
  program
    .command("agent", { hidden: true })
    .argument("<name>", "instance name")
    .description("run the instance's host agent in the foreground (vm start does this)")
    .action(async (name: string) => {
      const { runAgent } = await import("../../agent/agent-main.ts");
      try {
        await runAgent(name);
      } catch (e) {
        const { asHotmountError } = await import("../../core/errors.ts");
        const err = asHotmountError(e);
        process.stdout.write(JSON.stringify({ ts: new Date().toISOString(), level: "error", msg: "agent failed", error: err.toJSON() }) + "\n");
        process.exit(err.exitCode);
      }
    });
}
