// Shared test helpers: key sequences, a full Key object for the pure key mappers, waiting for a
// frame, and rendering the whole App against a FakeHotmountClient at a fixed terminal size.
import type { Key } from "ink";
import { render } from "ink-testing-library";
import type { HotmountClient } from "../../src/client/types.ts";
import { App } from "../../ui/app.tsx";
import type { DirEntry, ReadDir } from "../../ui/path-complete.ts";

/** Raw bytes a terminal sends for each key. */
export const KEYS = {
  up: "\u001B[A",
  down: "\u001B[B",
  right: "\u001B[C",
  left: "\u001B[D",
  enter: "\r",
  tab: "\t",
  shiftTab: "\u001B[Z",
  escape: "\u001B",
  backspace: "\u007F",
  delete: "\u001B[3~",
  pageDown: "\u001B[6~",
  ctrlU: "\u0015",
} as const;

/** A Key with every flag false except those given. */
export function key(over: Partial<Key> = {}): Key {
  return {
    upArrow: false,
    downArrow: false,
    leftArrow: false,
    rightArrow: false,
    pageDown: false,
    pageUp: false,
    home: false,
    end: false,
    return: false,
    escape: false,
    ctrl: false,
    shift: false,
    tab: false,
    backspace: false,
    delete: false,
    meta: false,
    super: false,
    hyper: false,
    capsLock: false,
    numLock: false,
    ...over,
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it passes or the timeout runs out; rethrows the last failure. */
export async function waitFor(check: () => void, timeoutMs = 2000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      check();
      return;
    } catch (e) {
      if (Date.now() > until) throw e;
      await sleep(10);
    }
  }
}

/**
 * Waits until `count()` has not changed for `quietMs` (something stopped happening); fails if it
 * keeps changing for `timeoutMs`. A bounded wait on a condition, for "it stopped" assertions.
 */
export async function waitForQuiet(count: () => number, quietMs: number, timeoutMs = 3000): Promise<number> {
  const until = Date.now() + timeoutMs;
  let last = count();
  let since = Date.now();
  while (Date.now() - since < quietMs) {
    if (Date.now() > until) throw new Error(`still changing after ${timeoutMs} ms (now ${count()})`);
    await sleep(10);
    const n = count();
    if (n !== last) [last, since] = [n, Date.now()];
  }
  return last;
}

/** A fixed clock: 2026-01-01 12:05 UTC, five minutes after the fake mounts' default createdAt. */
export const NOW = Date.UTC(2026, 0, 1, 12, 5, 0);
export const clock = () => NOW;

/** An in-memory directory tree for path completion: absolute dir → entries. */
export function fakeReadDir(tree: Record<string, DirEntry[]>): ReadDir {
  return async (dir) => {
    const d = dir.replace(/\/+$/, "") || "/";
    const e = tree[d];
    if (!e) throw new Error(`ENOENT ${d}`);
    return e;
  };
}

export interface AppHarness {
  frame: () => string;
  press: (...keys: string[]) => Promise<void>;
  /** Writes raw input at once, with no pause. */
  stdin: (data: string) => void;
  type: (text: string) => Promise<void>;
  rerender: (columns: number, rows: number) => void;
  unmount: () => void;
}

/** Renders the App at a fixed size; frame() is the last frame without colours. */
export function renderApp(client: HotmountClient, opts: { columns?: number; rows?: number; readDir?: ReadDir; pollMs?: number } = {}): AppHarness {
  const props = { client, clock, home: "/home/dev", cwd: "/home/dev", readDir: opts.readDir ?? fakeReadDir({}), pollMs: opts.pollMs ?? 40 };
  const r = render(<App {...props} size={{ columns: opts.columns ?? 80, rows: opts.rows ?? 24 }} />);
  const press = async (...keys: string[]) => {
    // One key per write, with a pause, as a person types: Ink reads a multi-byte write as a paste.
    for (const k of keys) {
      r.stdin.write(k);
      await sleep(15);
    }
  };
  return {
    frame: () => Bun.stripANSI(r.lastFrame() ?? ""),
    press,
    stdin: (data) => void r.stdin.write(data),
    type: (text) => press(...[...text]),
    rerender: (columns, rows) => r.rerender(<App {...props} size={{ columns, rows }} />),
    unmount: () => r.unmount(),
  };
}
