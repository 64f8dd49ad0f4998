// The client every CLI command uses: the same facade as the TUI's (client/local-client.ts), with
// a restarted agent reported on stderr (stdout and --json output keep their shapes).
import type { HotmountClient } from "../client/types.ts";
import { notice } from "./output.ts";

export async function cliClient(): Promise<HotmountClient> {
  const { agentRestartedNote, localClient } = await import("../client/local-client.ts");
  return localClient({ onAgentRestarted: (i) => notice(agentRestartedNote(i)) });
}
