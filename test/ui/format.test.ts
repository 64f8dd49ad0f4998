import { expect, test } from "bun:test";
import { formatAge } from "../../src/core/duration.ts";
import { availableTransports, columnWidths, fit, formatElapsed, tildify, truncate, unavailableReasons } from "../../ui/format.ts";
import { computeLayout } from "../../ui/layout.ts";
import { moveSelection, reconcileSelection, windowStart } from "../../ui/list-selection.ts";
import { ALL_TRANSPORTS } from "./fake-client.ts";

test("truncate cuts at the end, the middle or the start, by display cells", () => {
  expect(truncate("abcdef", 10)).toBe("abcdef");
  expect(truncate("abcdef", 4)).toBe("abc…");
  expect(truncate("/home/dev/src/app", 9, "middle")).toBe("/hom…/app");
  expect(truncate("/home/dev/src/app", 6, "start")).toBe("…c/app");
  expect(truncate("日本語", 4)).toBe("日…");
  expect(truncate("abc", 0)).toBe("");
  expect(truncate("abc", 1)).toBe("…");
});

test("fit pads to exactly the width, left or right aligned", () => {
  expect(fit("ab", 4)).toBe("ab  ");
  expect(fit("ab", 4, "end", "right")).toBe("  ab");
  expect(fit("abcdef", 4)).toBe("abc…");
});

test("columnWidths fills the row, honours max, and shrinks the last columns first", () => {
  const w = columnWidths(40, [{ min: 5, flex: 1 }, { min: 5 }, { min: 5, flex: 1, max: 8 }]);
  expect(w.reduce((a, b) => a + b, 0) + 2).toBe(40);
  expect(w[2]).toBe(8);
  expect(columnWidths(10, [{ min: 5 }, { min: 5 }, { min: 5 }])).toEqual([5, 3, 0]);
});

test("ages and elapsed times are compact", () => {
  const t0 = "2026-01-01T12:00:00.000Z";
  const at = (s: number) => Date.parse(t0) + s * 1000;
  expect(formatAge(t0, at(42))).toBe("42s");
  expect(formatAge(t0, at(300))).toBe("5m");
  expect(formatAge(t0, at(3 * 3600))).toBe("3h");
  expect(formatAge(t0, at(2 * 86400))).toBe("2d");
  expect(formatAge("nonsense", 0)).toBe("?");
  expect(formatElapsed(1234)).toBe("1.2s");
  expect(formatElapsed(125_000)).toBe("2m05s");
});

test("tildify shows the home directory as ~ only at a path boundary", () => {
  expect(tildify("/home/dev/src", "/home/dev")).toBe("~/src");
  expect(tildify("/home/devil", "/home/dev")).toBe("/home/devil");
});

test("transports: available ones listed, the others with their reason", () => {
  expect(availableTransports(ALL_TRANSPORTS)).toBe("virtiofs 9p");
  expect(unavailableReasons(ALL_TRANSPORTS)).toBe("sshfs: sshfs is not installed in the guest");
  expect(availableTransports([{ type: "9p", available: false }])).toBe("none");
});

test("selection moves and clamps, and survives a list change by key or position", () => {
  expect(moveSelection(["a", "b", "c"], "a", 1)).toBe("b");
  expect(moveSelection(["a", "b", "c"], "c", 5)).toBe("c");
  expect(moveSelection(["a", "b", "c"], "b", -Infinity)).toBe("a");
  expect(moveSelection([], null, 1)).toBeNull();
  expect(reconcileSelection(["a", "b", "c"], ["c", "b"], "b")).toBe("b");
  expect(reconcileSelection(["a", "b", "c"], ["a", "c"], "b")).toBe("c");
  expect(reconcileSelection(["a", "b"], ["a"], "b")).toBe("a");
  expect(reconcileSelection([], ["x"], null)).toBe("x");
});

test("windowStart keeps the selected row visible", () => {
  expect(windowStart(5, 4, 10)).toBe(0);
  expect(windowStart(100, 0, 10)).toBe(0);
  expect(windowStart(100, 50, 10)).toBe(45);
  expect(windowStart(100, 99, 10)).toBe(90);
});

test("layout shares 80x24 out to exactly 24 rows", () => {
  const l = computeLayout(80, 24, 3);
  // header + (instances + 3) + detail + (mounts + 3) + detail + status + footer
  expect(1 + l.instanceRows + 3 + 1 + l.lowerRows + 3 + 1 + 1 + 1).toBe(24);
  expect(l.instanceRows).toBe(3);
  expect(computeLayout(80, 24, 50).instanceRows).toBe(4);
  const two = computeLayout(80, 24, 3, 2);
  expect(two.instanceRows + two.lowerRows).toBe(l.instanceRows + l.lowerRows - 1);
  expect(l.bodyRows + 2 + 3).toBe(24);
});
