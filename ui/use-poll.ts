// The polling hook: one Poller for the life of the App, restarted only when its inputs change.
import { useCallback, useEffect, useRef } from "react";
import type { HotmountClient } from "../src/client/types.ts";
import type { AppAction, AppState } from "./app-state.ts";
import { pollOnce, Poller } from "./poll.ts";

/** Starts polling for the life of the component; returns "refresh now". */
export function usePoll(client: HotmountClient, getState: () => AppState, dispatch: (a: AppAction) => void, clock: () => number, pollMs: number): () => void {
  const poller = useRef<Poller | null>(null);
  useEffect(() => {
    const p = new Poller(() => pollOnce(client, getState, dispatch, clock), pollMs);
    poller.current = p;
    p.kick();
    return () => p.stop();
  }, [client, getState, dispatch, clock, pollMs]);
  return useCallback(() => poller.current?.kick(), []);
}
