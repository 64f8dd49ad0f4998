// The event-kinds layer (src/agent/watch/guest-helper/layer*.c), run on this host as root over a
// plain folder: a create, rename or delete that a process made through the layer, reported back by
// the host a moment later, must not raise its event a second time, even when the helper's own echo
// check has not seen the guest's event yet (the race seen under load: one extra IN_CREATE). The
// test drives the layer's control lines directly, so that race is the case every time; a change
// only the backing folder saw must still raise its event (so a layer that answers everything
// "already so" fails). The watcher is the helper's own --watch mode.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, renameSync, rmdirSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { helperBinary } from "../../src/agent/watch/helper-binary.ts";

const root = mkdtempSync(join(tmpdir(), "hmt-layer-"));
const backing = join(root, "backing");
const mp = join(root, "mp");
const bin = join(root, "watch-helper");
let layer: ChildProcess;
let watcher: ChildProcess;
const layerOut: string[] = [];
const events: string[] = [];

function lines(p: ChildProcess, into: string[]) {
  let buf = "";
  p.stdout!.on("data", (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
      into.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
}

async function until(what: () => string, ok: () => boolean, ms = 10_000) {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what()}`);
    await Bun.sleep(20);
  }
}

/** One control line; resolves with the layer's errno for it. */
async function control(line: string): Promise<number> {
  const from = layerOut.length;
  layer.stdin!.write(`${line}\n`);
  await until(
    () => `the layer's answer to ${line} (saw: ${layerOut.slice(from).join(" | ")})`,
    () => layerOut.slice(from).some((l) => l.startsWith("K ")),
  );
  return Number(
    layerOut
      .slice(from)
      .find((l) => l.startsWith("K "))!
      .split(" ")[1],
  );
}

/** The watcher's lines for a name, after a marker the test makes afterwards (so every earlier event is in). */
let marks = 0;
async function eventsUntilMarker(from: number): Promise<string[]> {
  const marker = `marker${++marks}`;
  writeFileSync(join(mp, marker), "");
  await until(
    () => `the watcher's CREATE of ${marker} (saw: ${events.slice(from).join(" | ")})`,
    () => events.slice(from).some((l) => l.endsWith(`/${marker}`) && l.startsWith("CREATE")),
  );
  return events.slice(from).filter((l) => /^(CREATE|DELETE|MOVED_FROM|MOVED_TO)(,ISDIR)? /.test(l) && !l.includes("/marker"));
}

beforeAll(async () => {
  mkdirSync(backing);
  mkdirSync(mp);
  writeFileSync(bin, await helperBinary("x86_64"));
  chmodSync(bin, 0o755);
  layer = spawn(bin, ["--layer", backing, mp], { stdio: ["pipe", "pipe", "inherit"] });
  lines(layer, layerOut);
  await until(
    () => "the layer's READY",
    () => layerOut.includes("READY"),
  );
  watcher = spawn(bin, ["--watch", mp], { stdio: ["pipe", "pipe", "inherit"] });
  lines(watcher, events);
  await until(
    () => "the watcher's READY",
    () => events.includes("READY"),
  );
});

afterAll(async () => {
  watcher?.kill();
  layer?.stdin?.end(); // the layer unmounts itself when its control input ends
  if (layer && layer.exitCode === null) await new Promise((r) => layer.once("exit", r));
  spawnSync("umount", ["-l", mp]);
  rmSync(root, { recursive: true, force: true });
});

test("a create made through the layer, reported by the host: no second IN_CREATE; a host-only create still gets one", async () => {
  let from = events.length;
  writeFileSync(join(mp, "g"), "guest\n");
  expect(await control("C /g")).toBe(17); // EEXIST: already so
  expect(await eventsUntilMarker(from)).toEqual([`CREATE ${mp}/g`]);

  from = events.length;
  writeFileSync(join(backing, "h"), "host\n");
  expect(await control("C /h")).toBe(0);
  expect(await eventsUntilMarker(from)).toEqual([`CREATE ${mp}/h`]);
});

test("a rename and a delete made through the layer, reported by the host: their events once; host-only ones still raise theirs", async () => {
  let from = events.length;
  renameSync(join(mp, "g"), join(mp, "g2"));
  expect(await control("M /g /g2")).toBe(17);
  expect(await eventsUntilMarker(from)).toEqual([`MOVED_FROM ${mp}/g`, `MOVED_TO ${mp}/g2`]);

  from = events.length;
  unlinkSync(join(mp, "g2"));
  expect(await control("X f /g2")).toBe(2); // ENOENT: already so
  expect(await eventsUntilMarker(from)).toEqual([`DELETE ${mp}/g2`]);

  from = events.length;
  renameSync(join(backing, "h"), join(backing, "h2"));
  expect(await control("M /h /h2")).toBe(0);
  expect(await eventsUntilMarker(from)).toEqual([`MOVED_FROM ${mp}/h`, `MOVED_TO ${mp}/h2`]);

  from = events.length;
  unlinkSync(join(backing, "h2"));
  expect(await control("X f /h2")).toBe(0);
  expect(await eventsUntilMarker(from)).toEqual([`DELETE ${mp}/h2`]);
});

test("a name the guest deleted and the host then made anew is a host create", async () => {
  const before = events.length;
  writeFileSync(join(mp, "n"), "1\n");
  unlinkSync(join(mp, "n"));
  expect(await eventsUntilMarker(before)).toEqual([`CREATE ${mp}/n`, `DELETE ${mp}/n`]);
  const from = events.length;
  writeFileSync(join(backing, "n"), "host\n");
  expect(await control("C /n")).toBe(0);
  expect(await eventsUntilMarker(from)).toEqual([`CREATE ${mp}/n`]);
});

test("a guest delete that failed is no echo: the host's delete of that folder still raises IN_DELETE", async () => {
  let before = events.length;
  mkdirSync(join(mp, "d"));
  // The watcher watches the new folder once it has seen it (a recursive inotify watcher can
  // miss what is made in a folder before that).
  expect(await eventsUntilMarker(before)).toEqual([`CREATE,ISDIR ${mp}/d`]);
  before = events.length;
  writeFileSync(join(mp, "d", "x"), "x\n");
  expect(() => rmdirSync(join(mp, "d"))).toThrow(/ENOTEMPTY/);
  expect(await eventsUntilMarker(before)).toEqual([`CREATE ${mp}/d/x`]);
  const from = events.length;
  rmSync(join(backing, "d"), { recursive: true });
  expect(await control("X f /d/x")).toBe(0);
  expect(await control("X d /d")).toBe(0);
  expect(await eventsUntilMarker(from)).toEqual([`DELETE ${mp}/d/x`, `DELETE,ISDIR ${mp}/d`]);
});
