// Keys of the main screen that work in either pane: actions, pane switching, help and quit.
// Dialogs own the keyboard while open, so these are inactive then.
import { useInput, type Key } from "ink";
import type { AppState } from "./use-app-state.ts";

export type MainIntent =
  | "quit"
  | "help"
  | "refresh"
  | "add"
  | "remove"
  | "start"
  | "stop"
  | "log"
  | "switch-pane"
  | "to-instances"
  | "to-mounts"
  | "back";

export function mainIntent(input: string, key: Key, s: AppState): MainIntent | null {
  if (key.tab) return "switch-pane";
  if (key.leftArrow) return "to-instances";
  if (key.rightArrow) return "to-mounts";
  if (key.escape) return "back";
  switch (input) {
    case "q": return "quit";
    case "?": return "help";
    case "r": return "refresh";
    case "a": return "add";
    case "s": return "start";
    case "x": return "stop";
    case "l": return "log";
    // Delete and d belong to the mounts pane; from the instances pane they say what to do.
    case "d": return s.focus === "instances" ? "remove" : null;
  }
  return null;
}

export function useMainKeys(state: AppState, run: (i: MainIntent) => void, isActive: boolean): void {
  useInput(
    (input, key) => {
      const i = mainIntent(input, key, state);
      if (i) run(i);
    },
    { isActive },
  );
}
