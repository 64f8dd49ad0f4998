// One mount's watch in `--watch=kinds` (src/agent/watch/mount-watch.ts): a folder the host removes
// must reach the guest as an X line even when a flush reads a change for it (the echo of the
// replay's own chmod) after it is gone and before the host's delete event: a case of the kinds
// tests missed its IN_DELETE that way under load. The host events here are the test's own (the
// watcher's inotify is the process edge), in the order that race delivers them.
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MountWatch } from "../../src/agent/watch/mount-watch.ts";
import type { Logger } from "../../src/core/model.ts";

const root = mkdtempSync(join(tmpdir(), "hmt-mw-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const log: Logger = { info() {}, warn() {}, error() {} };

async function until(what: string, ok: () => boolean) {
  const end = Date.now() + 5000;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(5);
  }
}

test("a change read after the folder is gone reports its delete; the delete's own event then adds no second one", async () => {
  const sent: string[][] = [];
  const mw = new MountWatch({ id: "t", hostPath: root, mountPoint: "/mnt/t", writable: true, kinds: true }, async (lines) => void sent.push(lines), log);
  const internals = mw as unknown as { watcher: { close(): void }; onEvent(kind: string, path: string): void };
  internals.watcher.close(); // from here the events are the test's
  const d = join(root, "d");

  mkdirSync(d);
  internals.onEvent("rename", d);
  await until("the create's flush", () => sent.length === 1);
  expect(sent[0]).toContain("C /mnt/t/d");

  rmSync(d, { recursive: true });
  internals.onEvent("change", d);
  await until("the flush of the change read after the delete", () => sent.length === 2);
  expect(sent[1]).toEqual(["X d /mnt/t/d"]);

  internals.onEvent("rename", d);
  await until("the flush of the delete's own event", () => sent.length === 3);
  expect(sent[2]!.filter((l) => !l.startsWith("D "))).toEqual([]);
  expect(sent[2]!.some((l) => l.endsWith(" /mnt/t"))).toBe(true);
  mw.stop();
});
