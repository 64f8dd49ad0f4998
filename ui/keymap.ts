// Every key the TUI answers to, in one table. The key router reads it to turn a key press into an
// intent, the footer and the help overlay read it to say which keys do what, and dialogs that
// mention a key ask it for the key's name: what is shown cannot drift from what works.
import type { Key } from "ink";

/** Where a key works. The router activates a list of scopes for what is on screen (key-router.ts). */
export type Scope =
  | "list"
  | "instances"
  | "mounts"
  | "main"
  | "add"
  | "add-host"
  | "add-type"
  | "add-writable"
  | "text"
  | "remove"
  | "remove-busy"
  | "remove-failed"
  | "stop"
  | "log"
  | "help";

/**
 * A key as written in the table: a single printable character ("q", "?", "G"), a named key
 * ("enter", "esc", "tab", "shift+tab", "up", "down", "left", "right", "pgup", "pgdn", "home", "end",
 * "backspace", "delete", "space"), "ctrl+<letter>", "any" (every key) or "text" (typed text).
 */
export type Chord = string;

export const HELP_SECTIONS = ["Move", "Act", "Add-mount form", "App"] as const;
export type HelpSection = (typeof HELP_SECTIONS)[number];

export interface KeyRow {
  readonly scope: Scope;
  readonly intent: string;
  /** The keys that do it, as the footer and the help show them. */
  readonly keys: readonly Chord[];
  /** More keys that do it, listed in the help only. */
  readonly more?: readonly Chord[];
  /** Keys that also do it without being advertised (upper case, vi and emacs habits). */
  readonly also?: readonly Chord[];
  /** The footer's words; a row without them is not in the footer. */
  readonly label?: string;
  /** The help overlay's line; rows with the same line have their keys listed together. */
  readonly help?: readonly [HelpSection, string];
  /** A main-screen key advertised in the footer only while this pane has focus. */
  readonly pane?: "instances" | "mounts";
}

// Main-screen rows are in footer order, which is why the scopes interleave there.
export const KEYMAP = [
  // Both panes' lists.
  { scope: "list", intent: "up", keys: ["up"], more: ["k"], label: "move", help: ["Move", "select instance/mount"] },
  { scope: "list", intent: "down", keys: ["down"], more: ["j"], label: "move", help: ["Move", "select instance/mount"] },
  { scope: "list", intent: "page-up", keys: ["pgup"], help: ["Move", "page, first, last"] },
  { scope: "list", intent: "page-down", keys: ["pgdn"], help: ["Move", "page, first, last"] },
  { scope: "list", intent: "first", keys: ["g"], also: ["home"], help: ["Move", "page, first, last"] },
  { scope: "list", intent: "last", keys: ["G"], also: ["end"], help: ["Move", "page, first, last"] },
  { scope: "main", intent: "switch-pane", keys: ["tab"], also: ["shift+tab"], help: ["Move", "switch pane"] },
  { scope: "main", intent: "to-instances", keys: ["left"], help: ["Move", "switch pane"] },
  { scope: "main", intent: "to-mounts", keys: ["right"], help: ["Move", "switch pane"] },
  { scope: "instances", intent: "to-mounts", keys: ["enter"], label: "mounts", help: ["Move", "go to the mounts"] },
  { scope: "main", intent: "add", keys: ["a"], label: "add", help: ["Act", "add a mount"] },
  { scope: "mounts", intent: "remove", keys: ["d"], more: ["delete"], label: "remove", help: ["Act", "remove the mount"] },
  // From the instances pane, d says where removing happens.
  { scope: "instances", intent: "remove", keys: ["d"] },
  { scope: "main", intent: "start", keys: ["s"], label: "start", pane: "instances", help: ["Act", "start the VM"] },
  { scope: "main", intent: "stop", keys: ["x"], label: "stop", pane: "instances", help: ["Act", "stop the VM"] },
  { scope: "main", intent: "back", keys: ["esc"], label: "instances", pane: "mounts", help: ["Move", "back, dismiss message"] },
  { scope: "main", intent: "log", keys: ["l"], label: "log", help: ["Act", "agent log"] },
  { scope: "main", intent: "refresh", keys: ["r"], label: "refresh", help: ["Act", "refresh now"] },
  { scope: "main", intent: "help", keys: ["?"], label: "help", help: ["App", "this help"] },
  // Ctrl-C never reaches the router: Ink quits on it itself (exitOnCtrlC) and restores the terminal.
  { scope: "main", intent: "quit", keys: ["q"], more: ["ctrl+c"], label: "quit", help: ["App", "quit"] },

  // The add-mount form. Tab completes in the host path, as in a shell; elsewhere it moves on.
  { scope: "add-host", intent: "complete", keys: ["tab"], label: "complete", help: ["Add-mount form", "complete the host path"] },
  { scope: "add", intent: "prev-field", keys: ["up"], also: ["shift+tab"], label: "field", help: ["Add-mount form", "previous / next field"] },
  { scope: "add", intent: "next-field", keys: ["down"], also: ["tab"], label: "field", help: ["Add-mount form", "previous / next field"] },
  { scope: "add-type", intent: "prev-type", keys: ["left"], also: ["h"], label: "change", help: ["Add-mount form", "change type/writable"] },
  { scope: "add-type", intent: "next-type", keys: ["right", "space"], also: ["l"], label: "change", help: ["Add-mount form", "change type/writable"] },
  { scope: "add-writable", intent: "toggle", keys: ["left", "right", "space"], also: ["w"] },
  { scope: "add", intent: "submit", keys: ["enter"], label: "add", help: ["Add-mount form", "add / cancel"] },
  { scope: "add", intent: "cancel", keys: ["esc"], label: "cancel", help: ["Add-mount form", "add / cancel"] },

  // A text field: readline editing.
  { scope: "text", intent: "left", keys: ["left"], also: ["ctrl+b"] },
  { scope: "text", intent: "right", keys: ["right"], also: ["ctrl+f"] },
  { scope: "text", intent: "home", keys: ["home"], also: ["ctrl+a"] },
  { scope: "text", intent: "end", keys: ["end"], also: ["ctrl+e"] },
  { scope: "text", intent: "backspace", keys: ["backspace"], also: ["ctrl+h"] },
  { scope: "text", intent: "delete", keys: ["delete"], also: ["ctrl+d"] },
  { scope: "text", intent: "kill-start", keys: ["ctrl+u"] },
  { scope: "text", intent: "kill-end", keys: ["ctrl+k"] },
  { scope: "text", intent: "kill-word", keys: ["ctrl+w"] },
  { scope: "text", intent: "insert", keys: ["text"] },

  // The remove dialog, by phase. f means force only after the agent said the mount is busy, so a
  // stray key can never force an unmount the user did not see refused.
  { scope: "remove", intent: "remove", keys: ["y", "enter"], also: ["Y"], label: "remove" },
  { scope: "remove", intent: "cancel", keys: ["n", "esc"], also: ["N", "q"], label: "cancel" },
  { scope: "remove-busy", intent: "force", keys: ["f"], also: ["F"], label: "force (lazy unmount)" },
  { scope: "remove-busy", intent: "cancel", keys: ["esc"], also: ["n", "N", "q", "enter"], label: "keep it" },
  { scope: "remove-failed", intent: "retry", keys: ["r"], also: ["y"], label: "retry" },
  { scope: "remove-failed", intent: "cancel", keys: ["esc"], also: ["n", "q", "enter"], label: "close" },

  { scope: "stop", intent: "stop", keys: ["y", "enter"], also: ["Y"], label: "stop the VM" },
  { scope: "stop", intent: "cancel", keys: ["n", "esc"], also: ["N", "q"], label: "cancel" },

  // The agent log: scrolling like less.
  { scope: "log", intent: "up", keys: ["up"], also: ["k"], label: "scroll" },
  { scope: "log", intent: "down", keys: ["down"], also: ["j"], label: "scroll" },
  { scope: "log", intent: "page-up", keys: ["pgup"], also: ["b", "ctrl+u"], label: "scroll" },
  { scope: "log", intent: "page-down", keys: ["pgdn"], also: ["space", "ctrl+d"], label: "scroll" },
  { scope: "log", intent: "first", keys: ["g"], also: ["home"], label: "top/end" },
  { scope: "log", intent: "last", keys: ["G"], also: ["end"], label: "top/end" },
  { scope: "log", intent: "reload", keys: ["r"], label: "reload" },
  { scope: "log", intent: "close", keys: ["esc", "q"], also: ["l"], label: "close" },

  { scope: "help", intent: "close", keys: ["any"], label: "close" },
] as const satisfies readonly KeyRow[];

/** The table as plain rows, for code that reads it without caring about the literal types. */
export const KEY_ROWS: readonly KeyRow[] = KEYMAP;

type Row = (typeof KEYMAP)[number];
/** The intents of a scope, as the table declares them. */
export type IntentIn<S extends Scope> = Extract<Row, { scope: S }>["intent"];
export interface KeyHit<S extends Scope = Scope> {
  scope: S;
  intent: IntentIn<S>;
}

/** What each intent of some scopes does, given a component's deps: one entry per table intent. */
export type KeyHandlers<S extends Scope, D> = { [K in S]: { [I in IntentIn<K>]: (d: D, intent: I) => void } };

/** Runs the handler of a key hit. */
export function runKey<S extends Scope, D>(handlers: KeyHandlers<S, D>, hit: KeyHit<S>, d: D): void {
  const byIntent = handlers[hit.scope] as unknown as Record<string, (d: D, intent: string) => void>;
  byIntent[hit.intent]!(d, hit.intent);
}

const NAMED: Record<string, (k: Key, input: string) => boolean> = {
  enter: (k) => k.return,
  esc: (k) => k.escape,
  tab: (k) => k.tab && !k.shift,
  "shift+tab": (k) => k.tab && k.shift,
  up: (k) => k.upArrow,
  down: (k) => k.downArrow,
  left: (k) => k.leftArrow,
  right: (k) => k.rightArrow,
  pgup: (k) => k.pageUp,
  pgdn: (k) => k.pageDown,
  home: (k) => k.home,
  end: (k) => k.end,
  backspace: (k) => k.backspace,
  delete: (k) => k.delete,
  space: (_, input) => input === " ",
  any: () => true,
  // Typed or pasted text, never a key that means something else in a field.
  text: (k, input) => input.length > 0 && !(k.ctrl || k.meta || k.escape || k.return || k.tab || k.upArrow || k.downArrow || k.pageUp || k.pageDown),
};

export function isNamedChord(c: Chord): boolean {
  return Object.hasOwn(NAMED, c) || c.startsWith("ctrl+");
}

/** Whether a key press is this chord. A printable chord is matched on the text the key typed. */
function chordMatches(c: Chord, input: string, key: Key): boolean {
  if (Object.hasOwn(NAMED, c)) return NAMED[c]!(key, input);
  if (c.startsWith("ctrl+")) return key.ctrl && input === c.slice(5);
  return input === c;
}

function chords(r: KeyRow): readonly Chord[] {
  return [...r.keys, ...(r.more ?? []), ...(r.also ?? [])];
}

/** What a key press means in the active scopes: the first scope, then the first row, wins. */
export function keyIntent<S extends Scope>(scopes: readonly S[], input: string, key: Key): KeyHit<S> | null {
  for (const scope of scopes) {
    for (const r of KEY_ROWS) {
      if (r.scope === scope && chords(r).some((c) => chordMatches(c, input, key))) return { scope, intent: r.intent } as KeyHit<S>;
    }
  }
  return null;
}

export function rowsIn(scope: Scope): readonly KeyRow[] {
  return KEY_ROWS.filter((r) => r.scope === scope);
}

const SHOWN: Record<string, string> = {
  enter: "Enter",
  esc: "Esc",
  tab: "Tab",
  "shift+tab": "Shift-Tab",
  up: "↑",
  down: "↓",
  left: "←",
  right: "→",
  pgup: "PgUp",
  pgdn: "PgDn",
  home: "Home",
  end: "End",
  backspace: "Backspace",
  delete: "Del",
  space: "Space",
  any: "any key",
};

/** How a key is written on screen: Enter, ↑, Ctrl-C, q. */
export function keyName(c: Chord): string {
  if (c.startsWith("ctrl+")) return `Ctrl-${c.slice(5).toUpperCase()}`;
  return Object.hasOwn(SHOWN, c) ? SHOWN[c]! : c;
}

function row<S extends Scope>(scope: S, intent: IntentIn<S>): KeyRow {
  const r = KEY_ROWS.find((x) => x.scope === scope && x.intent === intent);
  if (!r) throw new Error(`no key for ${scope}/${intent}`);
  return r;
}

/** The advertised keys of an intent, by name: ["y", "Enter"]. */
export function keyNames<S extends Scope>(scope: S, intent: IntentIn<S>): string[] {
  return row(scope, intent).keys.map(keyName);
}

/** The advertised keys of an intent, as dialogs and hints write them: "y/Enter". */
export function keysFor<S extends Scope>(scope: S, intent: IntentIn<S>): string {
  return keyNames(scope, intent).join("/");
}

export interface KeyHint {
  keys: string;
  label: string;
}

const isArrow = (s: string) => "↑↓←→".includes(s);

/** Footer hints for rows in table order; neighbours with the same label share one hint. */
export function footerHints(rows: readonly KeyRow[]): KeyHint[] {
  const out: { parts: string[][]; label: string }[] = [];
  for (const r of rows) {
    if (!r.label) continue;
    const last = out.at(-1);
    const names = r.keys.map(keyName);
    if (last && last.label === r.label) last.parts.push(names);
    else out.push({ parts: [names], label: r.label });
  }
  return out.map(({ parts, label }) => ({ keys: joinRows(parts), label }));
}

// One row's keys are alternatives (y/Enter). Rows side by side list their keys as a set: arrows
// run together (↑↓), a named key takes a space (↑↓ PgUp PgDn), single characters a slash (g/G).
function joinRows(parts: string[][]): string {
  return parts
    .map((names, i) => {
      if (i === 0) return names.join("/");
      const a = parts[i - 1]!.at(-1)!;
      const b = names[0]!;
      const sep = isArrow(a) && isArrow(b) ? "" : a.length > 1 || b.length > 1 ? " " : "/";
      return sep + names.join("/");
    })
    .join("");
}

/** The help overlay's sections: every advertised key, grouped by what it does. */
export function helpSections(): { title: HelpSection; keys: KeyHint[] }[] {
  return HELP_SECTIONS.map((title) => {
    const lines = new Map<string, KeyRow[]>();
    for (const r of KEY_ROWS) {
      if (r.help?.[0] !== title) continue;
      lines.set(r.help[1], [...(lines.get(r.help[1]) ?? []), r]);
    }
    return { title, keys: [...lines].map(([label, rows]) => ({ keys: helpKeys(rows), label })) };
  });
}

// The main keys first, then the more ones; two spaces where named keys and letters meet.
function helpKeys(rows: KeyRow[]): string {
  const all = [...rows.flatMap((r) => r.keys), ...rows.flatMap((r) => r.more ?? [])];
  return all.map((c, i) => (i > 0 && isNamedChord(c) !== isNamedChord(all[i - 1]!) ? " " : "") + keyName(c)).join(" ");
}
