// What the agent log viewer's keys do: scroll by line, page or to an end, reload, close.
import type { AgentLogAction } from "./agent-log-state.ts";
import type { KeyHandlers } from "./keymap.ts";

export interface AgentLogKeyDeps {
  dispatch: (a: AgentLogAction) => void;
  onClose: () => void;
  onReload: () => void;
  /** Rows of log text on screen: a page is one less, so a line of context stays. */
  viewRows: number;
}

// Positive deltas scroll towards the end of the log.
const scroll = (d: AgentLogKeyDeps, delta: number) => d.dispatch({ type: "log/scroll", delta, viewRows: d.viewRows });
const page = (d: AgentLogKeyDeps) => Math.max(1, d.viewRows - 1);

export const agentLogKeys: KeyHandlers<"log", AgentLogKeyDeps> = {
  log: {
    close: (d) => d.onClose(),
    reload: (d) => d.onReload(),
    up: (d) => scroll(d, -1),
    down: (d) => scroll(d, 1),
    "page-up": (d) => scroll(d, -page(d)),
    "page-down": (d) => scroll(d, page(d)),
    first: (d) => scroll(d, -Infinity),
    last: (d) => scroll(d, Infinity),
  },
};
