// Durations of timed grants (`mount add --for 30m`, `mount extend --for 2h`): parsed once here so
// the CLI and the agent agree, with a bound so that no value can overflow a timer or a date; and
// a mount's age as the CLI's list and the TUI both show it.
import { HotmountError } from "./errors.ts";

/** The longest grant: one year. Longer is not a time limit; leave `--for` out instead. */
export const MAX_GRANT_SECONDS = 366 * 86_400;

const UNIT: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

function invalid(v: string, why: string): HotmountError {
  const shown = JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  return new HotmountError("INVALID_ARGUMENT", `invalid duration ${shown}: ${why}`, {
    hint: "Use a whole number with a unit s, m, h or d, from 1s to 366d: e.g. 30s, 30m, 2h, 1d, 1h30m.",
  });
}

/** "30s", "30m", "2h", "1d", "1h30m" → seconds; anything else is INVALID_ARGUMENT. */
export function parseDuration(v: string): number {
  const s = v.trim();
  if (s.length > 32) throw invalid(v, "too long");
  if (/^[+-]/.test(s)) throw invalid(v, s.startsWith("-") ? "a duration cannot be negative" : "no sign allowed");
  if (!/^(\d+[smhd])+$/.test(s)) throw invalid(v, "not a number with a unit");
  let total = 0;
  for (const [, n, u] of s.matchAll(/(\d+)([smhd])/g)) {
    const part = Number(n) * UNIT[u!]!;
    if (!Number.isSafeInteger(part)) throw invalid(v, "too large");
    total += part;
  }
  if (total <= 0) throw invalid(v, "a grant must last at least 1s");
  if (total > MAX_GRANT_SECONDS) throw invalid(v, "longer than 366d");
  return total;
}

/** Seconds left until `iso`, shown the way `mount list` does: "29m", "1h05m", "expired". */
export function timeLeft(iso: string, now = Date.now()): string {
  const s = Math.ceil((Date.parse(iso) - now) / 1000);
  if (s <= 0) return "expired";
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  return `${Math.floor(s / 86_400)}d${String(Math.floor((s % 86_400) / 3600)).padStart(2, "0")}h`;
}

/** How long ago `iso` was, in its largest whole unit (floored): 42s, 5m, 3h, 2d; "?" if not a time. */
export function formatAge(iso: string, now = Date.now()): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return "?";
  const s = Math.max(0, Math.floor((now - t) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}
