// How the screen's rows are shared out. Pure, so every terminal size can be unit-tested.

export interface Layout {
  /** Rows for instance rows inside the instances pane (without border and header). */
  instanceRows: number;
  /** Rows for the lower region: mounts rows, or the body of a dialog. */
  lowerRows: number;
  /** Rows of the full-body views (help, log), between header and footer. */
  bodyRows: number;
  /** Cells inside a bordered pane. */
  innerWidth: number;
}

// header + instance detail line + mount detail line + status line + footer
const FIXED_LINES = 5;
// border top/bottom + column header
const PANE_CHROME = 3;

export function computeLayout(columns: number, rows: number, instanceCount: number, statusLines = 1): Layout {
  const cols = Math.max(20, columns);
  const total = Math.max(10, rows);
  const avail = Math.max(2, total - FIXED_LINES - (statusLines - 1) - 2 * PANE_CHROME);
  // The instances pane takes what it needs up to a third of the space; mounts get the rest.
  const cap = Math.max(1, Math.floor(avail / 3));
  const instanceRows = Math.min(Math.max(1, instanceCount), cap);
  return {
    instanceRows,
    lowerRows: Math.max(1, avail - instanceRows),
    // header, status, footer; the view draws its own border (2)
    bodyRows: Math.max(1, total - 3 - (statusLines - 1) - 2),
    innerWidth: cols - 2,
  };
}
