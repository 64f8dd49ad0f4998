// State of the instances pane: the last polled list and the selected instance (by name).
import type { InstanceSummary } from "../src/agent/api.ts";
import { moveSelection, reconcileSelection } from "./list-selection.ts";

export interface InstancesState {
  items: InstanceSummary[];
  selected: string | null;
  /** False until the first poll answered, so the pane can say "loading" instead of "none". */
  loaded: boolean;
}

export type InstancesAction =
  { type: "instances/loaded"; items: InstanceSummary[] } | { type: "instances/move"; delta: number } | { type: "instances/select"; name: string };

export const initialInstancesState: InstancesState = { items: [], selected: null, loaded: false };

export function instancesReducer(state: InstancesState, action: InstancesAction): InstancesState {
  switch (action.type) {
    case "instances/loaded": {
      // Sorted by name so rows never reorder between polls.
      const items = [...action.items].sort((a, b) => a.name.localeCompare(b.name));
      const selected = reconcileSelection(
        state.items.map((i) => i.name),
        items.map((i) => i.name),
        state.selected,
      );
      return { items, selected, loaded: true };
    }
    case "instances/move":
      return {
        ...state,
        selected: moveSelection(
          state.items.map((i) => i.name),
          state.selected,
          action.delta,
        ),
      };
    case "instances/select":
      return state.items.some((i) => i.name === action.name) ? { ...state, selected: action.name } : state;
  }
}

export function selectedInstance(state: InstancesState): InstanceSummary | undefined {
  return state.items.find((i) => i.name === state.selected);
}
