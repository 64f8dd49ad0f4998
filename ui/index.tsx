// Entry point of the full-screen TUI. The CLI calls runTui for bare `hotmount` on a TTY and for
// `hotmount tui`; the TUI talks to nothing but the client it is given.
import { render } from "ink";
import type { HotmountClient } from "../src/client/types.ts";
import { HotmountError } from "../src/core/errors.ts";
import { App } from "./app.tsx";

export interface TuiOptions {
  /** How often to poll the client for changes, in ms (default 1000). */
  pollMs?: number;
  /** Notes to show on the status line as they come (see AppProps.notices). */
  notices?: (show: (text: string) => void) => () => void;
}

/**
 * Runs the TUI on the alternate screen until the user quits (q or Ctrl-C). Resolves once the
 * terminal is restored: primary screen back, cursor shown, raw mode off. On SIGTERM or SIGHUP
 * Ink restores the terminal before the process ends (through signal-exit); if the caller handles
 * those signals itself, the app unmounts and this promise resolves instead.
 */
export async function runTui(client: HotmountClient, opts: TuiOptions = {}): Promise<void> {
  if (!process.stdout.isTTY || !process.stdin.isTTY) {
    throw new HotmountError("USAGE", "The interactive TUI needs a terminal.", {
      hint: "Run hotmount --help for the commands, or use --json output in scripts.",
    });
  }
  const app = render(<App client={client} pollMs={opts.pollMs ?? 1000} notices={opts.notices} />, {
    alternateScreen: true,
    // Ink would go non-interactive when CI is set; on a real TTY the user wants the real thing.
    interactive: true,
    exitOnCtrlC: true,
    // Stray console output from a library would tear the full-screen frame.
    patchConsole: true,
  });
  try {
    await app.waitUntilExit();
  } finally {
    app.cleanup();
  }
}
