// Live updates: the TUI polls the client (default every second) so a mount added from another
// terminal appears without a key press. One request cycle at a time: a slow agent delays the next
// poll instead of piling requests up.
import type { HotmountClient } from "../src/client/types.ts";
import { toErrorView } from "./error-view.ts";
import type { AppAction, AppState } from "./app-state.ts";

export const LOG_LINES = 500;

/** One poll: instances, then the selected instance's mounts, then the open log. */
export async function pollOnce(client: HotmountClient, getState: () => AppState, dispatch: (a: AppAction) => void, clock: () => number): Promise<void> {
  try {
    const items = await client.listInstances();
    dispatch({ type: "instances/loaded", items });
    dispatch({ type: "poll/ok", now: clock() });
  } catch (e) {
    dispatch({ type: "poll/failed", error: toErrorView(e), now: clock() });
    return;
  }
  const selected = getState().instances.selected;
  if (selected !== null) {
    try {
      dispatch({ type: "mounts/loaded", instance: selected, items: await client.listMounts(selected) });
    } catch (e) {
      dispatch({ type: "mounts/failed", instance: selected, error: toErrorView(e) });
    }
  }
  const modal = getState().modal;
  if (modal.kind === "log") {
    const inst = modal.log.instance;
    try {
      dispatch({ type: "log/loaded", instance: inst, lines: await client.agentLog(inst, LOG_LINES) });
    } catch (e) {
      dispatch({ type: "log/failed", instance: inst, error: toErrorView(e) });
    }
  }
}

/** Runs `cycle` now and then every `ms` after each finishes; kick() asks for a cycle at once. */
export class Poller {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private running = false;
  private again = false;
  private stopped = false;

  constructor(
    private readonly cycle: () => Promise<void>,
    private readonly ms: number,
  ) {}

  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.running = true;
    this.cycle()
      .catch(() => {})
      .finally(() => {
        this.running = false;
        if (this.stopped) return;
        if (this.again) {
          this.again = false;
          this.kick();
        } else {
          this.timer = setTimeout(() => this.kick(), this.ms);
        }
      });
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }
}
