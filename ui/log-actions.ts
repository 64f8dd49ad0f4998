// The agent log viewer's loading: opened for the selected instance, loaded at once and again on
// r (the poller also reloads it while it is open).
import { fail, type ActionContext } from "./action-context.ts";
import { createAgentLogState } from "./agent-log-state.ts";
import { toErrorView } from "./error-view.ts";
import { selectedInstance } from "./instances-pane-state.ts";
import { LOG_LINES } from "./poll.ts";

export async function reloadLog(c: ActionContext): Promise<void> {
  const modal = c.getState().modal;
  if (modal.kind !== "log") return;
  const inst = modal.log.instance;
  try {
    c.dispatch({ type: "log/loaded", instance: inst, lines: await c.client.agentLog(inst, LOG_LINES) });
  } catch (e) {
    c.dispatch({ type: "log/failed", instance: inst, error: toErrorView(e) });
  }
}

export function openLog(c: ActionContext): void {
  const inst = selectedInstance(c.getState().instances);
  if (!inst) return fail(c, "No instance is selected.");
  c.dispatch({ type: "modal/open", modal: { kind: "log", log: createAgentLogState(inst.name) } });
  void reloadLog(c);
}
