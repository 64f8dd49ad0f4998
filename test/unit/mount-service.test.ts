// The mount service without a VM: add, remove, rollback, recovery, restore, grant expiry and
// persistent re-apply, against the fakes at its edges (test/helpers/fake-guest.ts). What is
// checked is what the VM tests check too: the guest's mount table, the plugged devices, the
// journal on disk and the changes told to the hooks.
import { afterAll, beforeEach, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { InstanceConfig } from "../../src/core/instance-config.ts";
import { instancePaths } from "../../src/core/paths.ts";
import type { MountRecord } from "../../src/agent/journal.ts";
import type { MountChange } from "../../src/agent/mount-hooks.ts";
import { MountService } from "../../src/agent/mount-service.ts";
import { PersistentMounts } from "../../src/agent/persistent-mounts.ts";
import { FakeGuest, FakeSession } from "../helpers/fake-guest.ts";

const host = mkdtempSync(join(tmpdir(), "hm-unit-ms-"));
afterAll(() => rmSync(host, { recursive: true, force: true }));
const log = { info() {}, warn() {}, error() {}, debug() {} };
let n = 0;

function setup(persistentMounts: InstanceConfig["persistentMounts"] = []) {
  const cfg = InstanceConfig.parse({
    name: `ms${++n}`,
    memoryMiB: 512,
    cpus: 1,
    slots: 2,
    kernel: "/dev/null",
    ssh: { host: "127.0.0.1", port: 22, user: "root", identityFile: "/dev/null" },
    persistentMounts,
  });
  const guest = new FakeGuest();
  const session = new FakeSession(2);
  const changes: [MountChange, string, string | undefined][] = [];
  const watched: string[] = [];
  const make = () => {
    const s: MountService = new MountService(
      { cfg, session, guest: async () => guest, ssh: () => Promise.reject(new Error("no ssh")), log, markFailed: (id, m, h) => s.markFailed(id, m, h) },
      {
        changes: { changed: (kind, rec: MountRecord, _e, note) => changes.push([kind, rec.mountPoint, note]) },
        watch: {
          ready: async (r) => void watched.push(`ready ${r.mountPoint}`),
          beforeRemove: async (r) => void watched.push(`stop ${r.mountPoint}`),
          decorate: (m) => m,
        },
        persistent: new PersistentMounts(cfg, log),
      },
    );
    return s;
  };
  const journal = () => (JSON.parse(readFileSync(instancePaths(cfg.name).journal, "utf8")) as { mounts: MountRecord[] }).mounts;
  return { cfg, guest, session, changes, watched, service: make(), make, journal };
}

let t: ReturnType<typeof setup>;
beforeEach(() => {
  t = setup();
});

test("add: the guest folder made, the device plugged and mounted, journaled ready, told added then ready", async () => {
  const m = await t.service.add({ hostPath: host, mountPoint: "/mnt/a", type: "virtiofs" });
  expect(m.state).toBe("ready");
  expect(t.guest.mounts.get("/mnt/a")).toEqual({ source: m.id, fstype: "virtiofs" });
  expect(t.session.plugged.has(m.id)).toBe(true);
  expect(t.journal().map((r) => [r.id, r.state, r.createdDir])).toEqual([[m.id, "ready", true]]);
  expect(t.changes).toEqual([
    ["added", "/mnt/a", undefined],
    ["ready", "/mnt/a", undefined],
  ]);
  expect(t.watched).toEqual(["ready /mnt/a"]);
  expect(t.service.list().map((x) => x.mountPoint)).toEqual(["/mnt/a"]);
});

test("add refuses bad requests before anything happens: relative path, --for with --persist, an overlapping path", async () => {
  expect(() => t.service.add({ hostPath: "rel/dir" })).toThrow(/not absolute/);
  expect(() => t.service.add({ hostPath: host, persist: true, forSeconds: 60 })).toThrow(/cannot also be persistent/);
  await t.service.add({ hostPath: host, mountPoint: "/mnt/a" });
  await expect(t.service.add({ hostPath: host, mountPoint: "/mnt/a/b" })).rejects.toMatchObject({ code: "MOUNT_CONFLICT" });
  expect(t.guest.log.filter((a) => a[0] === "mkdir")).toHaveLength(1);
});

test("remove: unmounted first, then unplugged, the folder it made taken away, the record gone", async () => {
  const m = await t.service.add({ hostPath: host, mountPoint: "/mnt/a" });
  await t.service.remove("/mnt/a");
  const order = t.guest.log.map((a) => a[0]);
  expect(order.lastIndexOf("umount")).toBeLessThan(order.lastIndexOf("rmdir"));
  expect(t.guest.mounts.size).toBe(0);
  expect(t.guest.dirs.has("/mnt/a")).toBe(false);
  expect(t.session.plugged.has(m.id)).toBe(false);
  expect(t.journal()).toEqual([]);
  expect(t.changes.at(-1)).toEqual(["removed", "/mnt/a", undefined]);
  expect(t.watched).toEqual(["ready /mnt/a", "stop /mnt/a"]);
  await expect(t.service.remove("/mnt/a")).rejects.toMatchObject({ code: "MOUNT_NOT_FOUND" });
});

test("remove of a busy mount: MOUNT_BUSY naming the holder, the mount stays ready and watched; --force stops the holder", async () => {
  await t.service.add({ hostPath: host, mountPoint: "/mnt/a" });
  t.guest.holders.set("/mnt/a", "4242 vim");
  await expect(t.service.remove("/mnt/a")).rejects.toMatchObject({ code: "MOUNT_BUSY", details: { holders: ["4242 vim"] } });
  expect(t.journal()[0]?.state).toBe("ready");
  expect(t.guest.mounts.has("/mnt/a")).toBe(true);
  expect(t.watched.at(-1)).toBe("ready /mnt/a");
  await t.service.remove("/mnt/a", { force: true });
  expect(t.guest.holders.size).toBe(0);
  expect(t.journal()).toEqual([]);
});

test("rollback: a guest mount that fails after the plug unplugs the device, removes the folder and the record", async () => {
  t.guest.broken.add("mount");
  await expect(t.service.add({ hostPath: host, mountPoint: "/mnt/a" })).rejects.toThrow(/connection to the guest lost/);
  expect(t.session.plugged.size).toBe(0);
  expect(t.guest.dirs.has("/mnt/a")).toBe(false);
  expect(t.journal()).toEqual([]);
  expect(t.changes.map((c) => c[0])).toEqual(["added", "failed", "removed"]);
});

test("rollback: a failed plug leaves no folder and no record; the next add gets the slot", async () => {
  t.session.failPlug = new Error("device_add failed");
  await expect(t.service.add({ hostPath: host, mountPoint: "/mnt/a" })).rejects.toThrow(/device_add failed/);
  expect(t.guest.dirs.has("/mnt/a")).toBe(false);
  expect(t.journal()).toEqual([]);
  const m = await t.service.add({ hostPath: host, mountPoint: "/mnt/a" });
  expect(t.session.plugged.get(m.id)?.slot).toBe("rp0");
});

test("recovery: a failed mount brought back by recover() is ready again, told ready; a restarted service reads the journal", async () => {
  const m = await t.service.add({ hostPath: host, mountPoint: "/mnt/a" });
  t.service.markFailed(m.id, "backend died", "wait");
  expect(t.journal()[0]).toMatchObject({ state: "failed", error: { code: "MOUNT_BROKEN", message: "backend died" } });
  let tried = 0;
  const back = new Promise<void>((resolve) => {
    t.service.recover(m.id, async () => {
      tried++;
      resolve();
    });
  });
  await back;
  await t.service.extend(m.id, 1).catch(() => {}); // queued behind recover: it has finished once this settles
  expect(tried).toBe(1);
  expect(t.journal()[0]?.state).toBe("ready");
  expect(t.journal()[0]?.error).toBeUndefined();
  expect(t.changes.map((c) => c[0])).toEqual(["added", "ready", "failed", "ready"]);
  const again = t.make();
  expect(again.find("/mnt/a")?.id).toBe(m.id);
});

test("restore: the same record comes back ready with a note; a failing way back leaves it failed saying why", async () => {
  const m = await t.service.add({ hostPath: host, mountPoint: "/mnt/a" });
  t.guest.mounts.delete("/mnt/a");
  const ok = await t.service.restore(m.id, "the guest rebooted", async (rec, tr) => tr.mount(rec, () => {}));
  expect(ok).toBe(true);
  expect(t.guest.mounts.has("/mnt/a")).toBe(true);
  expect(t.changes.at(-1)).toEqual(["restored", "/mnt/a", "the guest rebooted: mounted again at /mnt/a"]);
  const bad = await t.service.restore(m.id, "the guest rebooted", async () => {
    throw new Error("no such device");
  });
  expect(bad).toBe(false);
  expect(t.journal()[0]).toMatchObject({ state: "failed", error: { message: "the guest rebooted; bringing it back failed: no such device" } });
  expect(await t.service.restore("hm-nope", "x", async () => {})).toBe(false);
});

test("expiry: not due is left alone; due and busy waits (onExpiry wait) or stops the holders (force)", async () => {
  const a = await t.service.add({ hostPath: host, mountPoint: "/mnt/a", forSeconds: 3600 });
  const b = await t.service.add({ hostPath: host, mountPoint: "/mnt/b", forSeconds: 3600, onExpiry: "force" });
  expect(await t.service.expire(a.id)).toEqual({ kind: "gone" });
  const past = new Date(Date.now() - 1000).toISOString();
  for (const r of t.service.allRecords()) r.expiresAt = past;
  t.guest.holders.set("/mnt/a", "7 sh");
  t.guest.holders.set("/mnt/b", "8 sh");
  expect(await t.service.expire(a.id)).toEqual({ kind: "busy", holders: ["7 sh"] });
  expect(t.service.find(a.id)?.state).toBe("ready");
  expect(await t.service.expire(b.id)).toEqual({ kind: "removed", forced: true, holders: ["8 sh"] });
  t.guest.holders.delete("/mnt/a");
  expect(await t.service.expire(a.id)).toEqual({ kind: "removed", forced: false });
  expect(t.journal()).toEqual([]);
});

test("extend: a grant pushed later is journaled and told; a mount without one is refused", async () => {
  const a = await t.service.add({ hostPath: host, mountPoint: "/mnt/a", forSeconds: 60 });
  const m = await t.service.extend(a.id, 60);
  expect(Date.parse(m.expiresAt!) - Date.parse(a.expiresAt!)).toBe(60_000);
  expect(t.journal()[0]?.expiresAt).toBe(m.expiresAt);
  expect(t.changes.at(-1)?.[0]).toBe("extended");
  await t.service.add({ hostPath: host, mountPoint: "/mnt/b" });
  await expect(t.service.extend("/mnt/b", 60)).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
});

test("persistent mounts: re-applied when missing, skipped when ready, kept as failed when they cannot be applied", async () => {
  const p = setup([
    { hostPath: host, mountPoint: "/mnt/p", type: "virtiofs", writable: false },
    { hostPath: host, mountPoint: "/mnt/p/q", type: "virtiofs", writable: false },
  ]);
  await p.service.reapplyPersistent();
  const byMp = new Map(p.journal().map((r) => [r.mountPoint, r]));
  expect(byMp.get("/mnt/p")).toMatchObject({ state: "ready", persist: true });
  expect(byMp.get("/mnt/p/q")).toMatchObject({ state: "failed", persist: true, error: { code: "MOUNT_CONFLICT" } });
  expect(p.guest.mounts.has("/mnt/p")).toBe(true);
  const plugs = p.session.plugged.size;
  await p.service.reapplyPersistent();
  expect(p.session.plugged.size).toBe(plugs);
  expect(p.journal().find((r) => r.mountPoint === "/mnt/p")?.id).toBe(byMp.get("/mnt/p")?.id);
});

test("teardown removes every mount, forced, and leaves the guest and the slots empty", async () => {
  await t.service.add({ hostPath: host, mountPoint: "/mnt/a" });
  await t.service.add({ hostPath: host, mountPoint: "/mnt/b" });
  t.guest.holders.set("/mnt/b", "9 sh");
  await t.service.teardownAll();
  expect(t.guest.mounts.size).toBe(0);
  expect(t.session.plugged.size).toBe(0);
  expect(t.journal()).toEqual([]);
});
