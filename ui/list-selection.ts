// Selection in a list that is replaced on every poll. The selection is kept by key (instance
// name, mount id) so a refresh never moves the cursor; when the selected row vanishes the cursor
// stays at the same position rather than jumping to the top.

/** The key after moving `delta` rows (±Infinity jumps to an end), clamped to the list. */
export function moveSelection(keys: string[], selected: string | null, delta: number): string | null {
  if (keys.length === 0) return null;
  const at = selected === null ? -1 : keys.indexOf(selected);
  let next: number;
  if (delta === Infinity) next = keys.length - 1;
  else if (delta === -Infinity) next = 0;
  else next = at < 0 ? 0 : at + delta;
  next = Math.min(keys.length - 1, Math.max(0, next));
  return keys[next]!;
}

/** The selection after the list changed from oldKeys to newKeys. */
export function reconcileSelection(oldKeys: string[], newKeys: string[], selected: string | null): string | null {
  if (newKeys.length === 0) return null;
  if (selected !== null && newKeys.includes(selected)) return selected;
  const at = selected === null ? 0 : Math.max(0, oldKeys.indexOf(selected));
  return newKeys[Math.min(at, newKeys.length - 1)]!;
}

/** First row to draw so the selected row is visible in a viewport of `height` rows. */
export function windowStart(count: number, selectedIndex: number, height: number): number {
  if (height <= 0 || count <= height) return 0;
  const idx = Math.max(0, selectedIndex);
  // Keep the selection in the middle where possible, so rows above and below stay in view.
  const start = idx - Math.floor(height / 2);
  return Math.min(Math.max(0, start), count - height);
}
