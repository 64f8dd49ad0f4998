// Host and guest path validation, table-driven.
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { newMountId } from "../../src/agent/mount-id.ts";
import { normalizeGuestPath, resolveHostPath } from "../../src/core/validate.ts";

const root = mkdtempSync(`${tmpdir()}/hmt-val-`);
afterAll(() => rmSync(root, { recursive: true, force: true }));
mkdirSync(join(root, "ok dir"));
writeFileSync(join(root, "file"), "x");
symlinkSync("/etc", join(root, "to-etc"));
symlinkSync(join(root, "ok dir"), join(root, "to-ok"));

test.each([
  ["", /empty/],
  [join(root, "missing"), /does not exist/],
  [join(root, "file"), /not a folder/],
  ["/", /system folder/],
  ["/proc", /system folder/],
  ["/proc/self", /system folder/],
  ["/etc", /system folder/],
  [join(root, "to-etc"), /system folder/],
  [`${root}/a\nb`, /control character/],
  [`${root}/a\0b`, /control character/],
  ["x".repeat(5000), /5000 bytes long; Linux allows 4095/],
])("host path %p is refused", (p, msg) => {
  expect(() => resolveHostPath(p as string)).toThrow(msg as RegExp);
});

test("host paths resolve through realpath, relative to the cwd", () => {
  expect(resolveHostPath(join(root, "to-ok"))).toBe(join(root, "ok dir"));
  expect(resolveHostPath("ok dir", root)).toBe(join(root, "ok dir"));
  expect(resolveHostPath(join(root, "ok dir", "..", "ok dir"))).toBe(join(root, "ok dir"));
});

test.each([
  ["", /empty/],
  ["relative/path", /not absolute/],
  ["/", /system folder/],
  ["/etc", /system folder/],
  ["/etc/foo", /system folder/],
  ["/mnt/../etc", /system folder/],
  ["/proc/x", /system folder/],
  ["/usr/local/x", /system folder/],
  ["/tmp", /system folder/],
  ["/mnt/a\nb", /control character/],
])("guest path %p is refused", (p, msg) => {
  expect(() => normalizeGuestPath(p as string)).toThrow(msg as RegExp);
});

test("guest paths are normalized", () => {
  expect(normalizeGuestPath("/mnt//data/")).toBe("/mnt/data");
  expect(normalizeGuestPath("/mnt/./a/../b")).toBe("/mnt/b");
  expect(normalizeGuestPath("/home/dev/src")).toBe("/home/dev/src");
  expect(normalizeGuestPath("/tmp/x y,z")).toBe("/tmp/x y,z");
});

test("mount ids fit the 9p tag limit (31) and differ", () => {
  const ids = new Set(Array.from({ length: 1000 }, newMountId));
  expect(ids.size).toBe(1000);
  for (const id of ids) expect(id).toMatch(/^hm[0-9a-f]{8}$/);
});
