// The event-kinds lines of a flush (src/agent/watch/kinds-batch.ts): a delete and a create of the
// same inode are one rename, deletes go deepest first and creates shallowest first, a folder the
// host watcher had is deleted as a folder, and a space in a renamed path is escaped for M.
import { expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KindsBatch } from "../../src/agent/watch/kinds-batch.ts";
import { sig } from "../../src/agent/watch/mount-watch.ts";

const guest = (p: string) => p.replace(/^\/h/, "/g");

test("creates, deletes and a rename, in an order the guest can carry out", () => {
  const dir = mkdtempSync(join(tmpdir(), "hm-kinds-"));
  try {
    mkdirSync(join(dir, "d"));
    writeFileSync(join(dir, "d", "x"), "x");
    writeFileSync(join(dir, "moved to"), "m");
    const b = new KindsBatch();
    const st = (p: string) => statSync(join(dir, p));
    b.made(`/h/d/x`, st("d/x"));
    b.made(`/h/d`, st("d"));
    b.made(`/h/moved to`, st("moved to"));
    b.gone(`/h/old one`, sig(st("moved to")), false);
    b.gone(`/h/e/y`, undefined, false);
    b.gone(`/h/e`, undefined, true);
    expect(b.lines(guest)).toEqual(["X f /g/e/y", "X d /g/e", "M /g/old\\ one /g/moved\\ to", "C /g/d", "C /g/d/x"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a removed folder's own event (Bun reports it as folder/<its name>) is no entry of it", () => {
  const b = new KindsBatch();
  b.gone("/h/d/d", undefined, false);
  b.gone("/h/d", undefined, true);
  expect(b.lines(guest)).toEqual(["X d /g/d"]);
});

test("a path outside the mount gives no line", () => {
  const b = new KindsBatch();
  b.gone("/elsewhere/f", undefined, false);
  expect(b.lines((p) => (p.startsWith("/h/") ? p : null))).toEqual([]);
});
