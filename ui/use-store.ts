// useReducer with a getState() that is current the moment dispatch returns. Async steps (polls,
// client calls) read state after awaiting; with plain useReducer they would see the last render.
import { useCallback, useReducer, useRef } from "react";

export function useStore<S, A>(reducer: (s: S, a: A) => S, init: () => S): [S, (a: A) => void, () => S] {
  const ref = useRef<S | null>(null);
  if (ref.current === null) ref.current = init();
  const [, rerender] = useReducer((n: number) => n + 1, 0);
  const dispatch = useCallback(
    (a: A) => {
      const next = reducer(ref.current as S, a);
      if (next === ref.current) return;
      ref.current = next;
      rerender();
    },
    [reducer],
  );
  const getState = useCallback(() => ref.current as S, []);
  return [ref.current, dispatch, getState];
}
