// Keys of the agent log viewer: scrolling like less, r to reload, Esc or q to close.
import type { Key } from "ink";
import type { AgentLogAction } from "./agent-log-state.ts";

export type AgentLogIntent = { kind: "close" } | { kind: "reload" } | { kind: "action"; action: AgentLogAction };

export function agentLogIntent(input: string, key: Key, viewRows: number): AgentLogIntent | null {
  const scroll = (delta: number): AgentLogIntent => ({ kind: "action", action: { type: "log/scroll", delta, viewRows } });
  const page = Math.max(1, viewRows - 1);
  if (key.escape || input === "q" || input === "l") return { kind: "close" };
  if (input === "r") return { kind: "reload" };
  if (key.upArrow || input === "k") return scroll(-1);
  if (key.downArrow || input === "j") return scroll(1);
  if (key.pageUp || input === "b" || (key.ctrl && input === "u")) return scroll(-page);
  if (key.pageDown || input === " " || (key.ctrl && input === "d")) return scroll(page);
  if (key.home || input === "g") return scroll(-Infinity);
  if (key.end || input === "G") return scroll(Infinity);
  return null;
}

export interface AgentLogKeyDeps {
  dispatch: (a: AgentLogAction) => void;
  onClose: () => void;
  onReload: () => void;
}

export function handleAgentLogKey(input: string, key: Key, viewRows: number, d: AgentLogKeyDeps): void {
  const intent = agentLogIntent(input, key, viewRows);
  if (!intent) return;
  if (intent.kind === "close") d.onClose();
  else if (intent.kind === "reload") d.onReload();
  else d.dispatch(intent.action);
}
