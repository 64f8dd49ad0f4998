// State of the mounts pane: the mounts of one instance and the selected mount (by id), and how a
// mount's watch state (docs/watch.md) is shown.
import type { Mount } from "../src/agent/api.ts";
import type { ErrorView } from "./error-view.ts";
import { moveSelection, reconcileSelection } from "./list-selection.ts";

export interface MountsState {
  /** Whose mounts these are; answers for any other instance are stale and dropped. */
  instance: string | null;
  items: Mount[];
  selected: string | null;
  loaded: boolean;
  error: ErrorView | null;
}

export type MountsAction =
  | { type: "mounts/show"; instance: string | null }
  | { type: "mounts/loaded"; instance: string; items: Mount[] }
  | { type: "mounts/failed"; instance: string; error: ErrorView }
  | { type: "mounts/move"; delta: number }
  | { type: "mounts/upsert"; mount: Mount }
  | { type: "mounts/mark-removing"; id: string }
  | { type: "mounts/removed"; id: string };

export const initialMountsState: MountsState = { instance: null, items: [], selected: null, loaded: false, error: null };

function withItems(state: MountsState, items: Mount[]): MountsState {
  const selected = reconcileSelection(
    state.items.map((m) => m.id),
    items.map((m) => m.id),
    state.selected,
  );
  return { ...state, items, selected };
}

export function mountsReducer(state: MountsState, action: MountsAction): MountsState {
  switch (action.type) {
    case "mounts/show":
      if (action.instance === state.instance) return state;
      return { ...initialMountsState, instance: action.instance };
    case "mounts/loaded":
      if (action.instance !== state.instance) return state;
      return { ...withItems(state, action.items), loaded: true, error: null };
    case "mounts/failed":
      if (action.instance !== state.instance) return state;
      return { ...state, loaded: true, error: action.error };
    case "mounts/move":
      return {
        ...state,
        selected: moveSelection(
          state.items.map((m) => m.id),
          state.selected,
          action.delta,
        ),
      };
    case "mounts/upsert": {
      if (action.mount.instance !== state.instance) return state;
      const at = state.items.findIndex((m) => m.id === action.mount.id);
      const items = at < 0 ? [...state.items, action.mount] : state.items.map((m, i) => (i === at ? action.mount : m));
      // A mount the user just added becomes the selection, so `d` right after removes it.
      return { ...withItems(state, items), selected: action.mount.id };
    }
    case "mounts/mark-removing":
      return { ...state, items: state.items.map((m) => (m.id === action.id ? { ...m, state: "removing" } : m)) };
    case "mounts/removed":
      return withItems(
        state,
        state.items.filter((m) => m.id !== action.id),
      );
  }
}

export function selectedMount(state: MountsState): Mount | undefined {
  return state.items.find((m) => m.id === state.selected);
}

export interface WatchView {
  /** The WATCH column. */
  label: string;
  /** For the detail line. */
  detail: string;
  color?: string;
}

/** A mount's watch state: watching, not watched (--no-watch), or watching degraded (its warning). */
export function watchView(m: Mount): WatchView {
  if (m.watch === false) return { label: "off", detail: "not watched (--no-watch)" };
  if (m.watchWarning) return { label: "watch!", detail: `watch degraded: ${m.watchWarning}`, color: "yellow" };
  if (m.watch) return { label: "watch", detail: "watching host changes" };
  return { label: "-", detail: "" };
}
