// Every key the TUI answers to, in one place: the footer and the help overlay both read it, so
// what is shown cannot drift from what works.
import type { AppState } from "./app-state.ts";

export interface KeyHint {
  keys: string;
  label: string;
}

export interface KeySection {
  title: string;
  keys: KeyHint[];
}

export const HELP_SECTIONS: KeySection[] = [
  {
    title: "Move",
    keys: [
      { keys: "↑ ↓  k j", label: "select instance/mount" },
      { keys: "PgUp PgDn  g G", label: "page, first, last" },
      { keys: "Tab ← →", label: "switch pane" },
      { keys: "Enter", label: "go to the mounts" },
      { keys: "Esc", label: "back, dismiss message" },
    ],
  },
  {
    title: "Act",
    keys: [
      { keys: "a", label: "add a mount" },
      { keys: "d  Del", label: "remove the mount" },
      { keys: "s", label: "start the VM" },
      { keys: "x", label: "stop the VM" },
      { keys: "l", label: "agent log" },
      { keys: "r", label: "refresh now" },
    ],
  },
  {
    title: "Add-mount form",
    keys: [
      { keys: "Tab", label: "complete the host path" },
      { keys: "↑ ↓", label: "previous / next field" },
      { keys: "← → Space", label: "change type/writable" },
      { keys: "Enter  Esc", label: "add / cancel" },
    ],
  },
  {
    title: "App",
    keys: [
      { keys: "?", label: "this help" },
      { keys: "q  Ctrl-C", label: "quit" },
    ],
  },
];

const NAV: KeyHint = { keys: "↑↓", label: "move" };
const HELP: KeyHint = { keys: "?", label: "help" };
const QUIT: KeyHint = { keys: "q", label: "quit" };

/** The footer's keys for what is on screen now, most useful first. */
export function footerKeys(s: AppState): KeyHint[] {
  switch (s.modal.kind) {
    case "help":
      return [{ keys: "any key", label: "close" }];
    case "add":
      return [
        { keys: "Tab", label: "complete" },
        { keys: "↑↓", label: "field" },
        { keys: "←→/Space", label: "change" },
        { keys: "Enter", label: "add" },
        { keys: "Esc", label: "cancel" },
      ];
    case "remove":
      if (s.modal.confirm.phase === "busy")
        return [
          { keys: "f", label: "force (lazy unmount)" },
          { keys: "Esc", label: "keep it" },
        ];
      if (s.modal.confirm.phase === "working") return [{ keys: "", label: "removing…" }];
      return [
        { keys: "y/Enter", label: "remove" },
        { keys: "n/Esc", label: "cancel" },
      ];
    case "stop":
      return [
        { keys: "y/Enter", label: "stop the VM" },
        { keys: "n/Esc", label: "cancel" },
      ];
    case "log":
      return [
        { keys: "↑↓ PgUp PgDn", label: "scroll" },
        { keys: "g/G", label: "top/end" },
        { keys: "r", label: "reload" },
        { keys: "Esc/q", label: "close" },
      ];
    case "none":
      break;
  }
  if (s.focus === "mounts") {
    return [
      NAV,
      { keys: "a", label: "add" },
      { keys: "d", label: "remove" },
      { keys: "Esc", label: "instances" },
      { keys: "l", label: "log" },
      { keys: "r", label: "refresh" },
      HELP,
      QUIT,
    ];
  }
  return [
    NAV,
    { keys: "Enter", label: "mounts" },
    { keys: "a", label: "add" },
    { keys: "s", label: "start" },
    { keys: "x", label: "stop" },
    { keys: "l", label: "log" },
    { keys: "r", label: "refresh" },
    HELP,
    QUIT,
  ];
}
