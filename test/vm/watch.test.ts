// Host edits wake the guest's file watchers (docs/watch.md), on a real demo guest for virtiofs,
// 9p and reverse-sshfs: each host operation gives the guest events the table promises, read-only
// mounts get reads, guest writes are not echoed, a 10,000-file burst ends with an event for the
// last state of every path, the watch limit degrades with a warning, and removing the mount ends the guest helper.
// The guest-side watcher is the helper's own --watch mode (recursive; busybox inotifyd is not);
// the --watch=kinds cases use inotifywait, and the Node watcher case @parcel/watcher from npm.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { appendFileSync, chmodSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { channelLines } from "../helpers/channel-lines.ts";
import { readInstanceConfig } from "../../src/core/instance-config.ts";
import { GuestSsh } from "../../src/guest-exec/ssh-client.ts";
import { hmOk } from "../helpers/cli.ts";
import { kindsCases, waitFor } from "../helpers/watch-kinds.ts";
import { nodeWatcherCases } from "../helpers/watch-node.ts";
import { useVm } from "../helpers/vm.ts";

const NAME = "wt";
// A budget of 6 folders per mount: the limit test has 9, every other test fewer. 6 hot-plug slots:
// the Node watcher case holds its tools mount and a default and a kinds mount per transport at once.
// HOTMOUNT_TRACE: the agent logs each replay flush, which a failed Node watcher case prints.
const vm = useVm(NAME, ["--slots", "6", "--9p-slots", "3"], { HOTMOUNT_WATCH_MAX_DIRS: "6", HOTMOUNT_TRACE: "1" });
const root = mkdtempSync(`${tmpdir()}/hmt-watch-`);
afterAll(() => rmSync(root, { recursive: true, force: true }));

let ssh: GuestSsh;
beforeAll(async () => {
  ssh = await GuestSsh.connect(readInstanceConfig(NAME).ssh);
});
afterAll(() => ssh?.close());

const TYPES = [
  { flag: "virtiofs", modify: true },
  { flag: "9p", modify: false },
  { flag: "sshfs", modify: false },
];

const helperPids = async () => (await vm.sh("ps -o pid,args | grep '[w]atch-helper' | grep -v -- --watch || true")).trim();

/** A guest watcher on a mount: every event line, as "EVENTS path". */
async function guestWatcher(mp: string) {
  const helper = (await vm.sh("ls /run/hotmount/watch-helper-* | head -1")).trim();
  const w = channelLines(await ssh.channel([helper, "--watch", mp]));
  const lines = w.lines;
  await waitFor("the guest watcher", () => lines.includes("READY"));
  return {
    lines,
    /** Waits for an event line with every one of `events` for `path`, after index `from`. */
    async expect(from: number, path: string, events: string[]) {
      return waitFor(
        () => `${events.join("+")} on ${path} (saw: ${lines.slice(from).join(" | ")})`,
        () => events.every((e) => lines.slice(from).some((l) => l.endsWith(` ${path}`) && l.split(" ")[0]!.split(",").includes(e))),
      );
    },
    close: w.close,
  };
}

async function add(host: string, mp: string, flag: string, ...more: string[]) {
  return (await hmOk(["mount", "add", NAME, host, mp, "--type", flag, "--json", ...more])).json();
}

describe.each(TYPES)("$flag", ({ flag, modify }) => {
  test("writable: host create, append, save by rename, chmod, delete, mkdir, rmdir, rename give guest events; guest writes are not echoed", async () => {
    const host = join(root, `rw-${flag}`);
    mkdirSync(host);
    writeFileSync(join(host, "f"), "v1\n");
    const mp = `/mnt/w-${flag}`;
    const m = await add(host, mp, flag, "--writable");
    expect(m.watch).toBe(true);
    const w = await guestWatcher(mp);
    const fileEvents = ["ATTRIB", "CLOSE_WRITE", ...(modify ? ["MODIFY"] : [])];
    const step = async (what: () => void, path: string, events: string[]) => {
      const from = w.lines.length;
      what();
      await w.expect(from, path, events);
    };
    await step(() => writeFileSync(join(host, "new"), "n\n"), `${mp}/new`, fileEvents);
    await step(() => writeFileSync(join(host, "new2"), "n\n"), mp, ["ATTRIB", "ISDIR"]);
    await step(() => appendFileSync(join(host, "f"), "v2\n"), `${mp}/f`, fileEvents);
    await step(
      () => {
        writeFileSync(join(host, ".f.swp"), "v3\n");
        renameSync(join(host, ".f.swp"), join(host, "f"));
      },
      `${mp}/f`,
      fileEvents,
    );
    await step(() => chmodSync(join(host, "f"), 0o600), `${mp}/f`, ["ATTRIB"]);
    await step(() => rmSync(join(host, "new")), mp, ["ATTRIB", "ISDIR"]);
    await step(() => mkdirSync(join(host, "d")), `${mp}/d`, ["ATTRIB", "ISDIR"]);
    // 9p (cache=none) gives a subfolder a new guest inode at each lookup, so a guest watch on a
    // folder below the mount root misses events on its files (docs/watch.md): the folder's own
    // replay is what such a watcher sees there.
    await step(() => writeFileSync(join(host, "d", "x"), "x\n"), flag === "9p" ? `${mp}/d` : `${mp}/d/x`, flag === "9p" ? ["ATTRIB", "ISDIR"] : fileEvents);
    await step(() => rmSync(join(host, "d"), { recursive: true }), mp, ["ATTRIB", "ISDIR"]);
    await step(() => renameSync(join(host, "f"), join(host, "g")), `${mp}/g`, fileEvents);
    // The guest sees the host's bytes, unchanged by the replay.
    expect(await vm.run(["cat", `${mp}/g`])).toBe("v3\n");

    // Guest writes: the guest's own events only. A host marker afterwards is replayed, so
    // everything the agent would have sent for the guest write has been sent by then.
    const from = w.lines.length;
    await vm.sh(`echo guest > ${mp}/gw && echo more >> ${mp}/g`);
    await step(() => writeFileSync(join(host, "marker"), "m\n"), `${mp}/marker`, ["ATTRIB"]);
    const attribs = w.lines.slice(from).filter((l) => /^ATTRIB/.test(l) && (l.endsWith("/gw") || l.endsWith("/g")));
    expect(attribs).toEqual([]);
    expect(w.lines.slice(from).some((l) => l === `CREATE ${mp}/gw`)).toBe(true);
    await w.close();
    await hmOk(["mount", "remove", NAME, mp]);
  }, 300_000);

  test("read-only: a host edit gives a read (OPEN, ACCESS, CLOSE_NOWRITE), a delete reads the folder", async () => {
    const host = join(root, `ro-${flag}`);
    mkdirSync(host);
    writeFileSync(join(host, "f"), "v1\n");
    const mp = `/mnt/r-${flag}`;
    await add(host, mp, flag);
    const w = await guestWatcher(mp);
    let from = w.lines.length;
    appendFileSync(join(host, "f"), "v2\n");
    await w.expect(from, `${mp}/f`, ["OPEN", "ACCESS", "CLOSE_NOWRITE"]);
    from = w.lines.length;
    rmSync(join(host, "f"));
    await w.expect(from, mp, ["OPEN", "ISDIR"]);
    // Nothing that needs write access happened.
    expect(w.lines.filter((l) => /ATTRIB|CLOSE_WRITE|MODIFY/.test(l))).toEqual([]);
    await w.close();
    await hmOk(["mount", "remove", NAME, mp]);
  }, 300_000);
});

test("over the watch limit: the mount works, mount list warns, the watched folders still replay", async () => {
  const host = join(root, "many");
  for (let i = 0; i < 8; i++) mkdirSync(join(host, `d${i}`), { recursive: true });
  const mp = "/mnt/many";
  await add(host, mp, "9p", "--writable");
  const row = (await hmOk(["mount", "list", NAME, "--json"])).json().find((m: any) => m.mountPoint === mp);
  expect(row.state).toBe("ready");
  expect(row.watchWarning).toMatch(/watching 6 of 9 folders/);
  const table = await hmOk(["mount", "list", NAME]);
  expect(table.stdout).toContain("watch!");
  expect(table.stderr).toMatch(/watching 6 of 9 folders/);
  const w = await guestWatcher(mp);
  const from = w.lines.length;
  writeFileSync(join(host, "top"), "t\n");
  await w.expect(from, `${mp}/top`, ["ATTRIB"]);
  await w.close();
  await hmOk(["mount", "remove", NAME, mp]);
}, 300_000);

test("a replay never writes back a mode older than the host's: a host chmod the guest's attribute cache has not seen stays", async () => {
  const host = join(root, "chmod-cache");
  mkdirSync(host);
  const f = join(host, "f");
  writeFileSync(f, "0\n");
  chmodSync(f, 0o644);
  const mp = "/mnt/chmod-cache";
  await add(host, mp, "virtiofs", "--writable");
  for (let i = 1; i <= 3; i++) {
    // The guest caches f's attributes (virtiofs keeps them 1 s), then the host changes the mode
    // and appends: the append's replay (a same-value chmod first) must take the host's new mode.
    expect((await vm.sh(`stat -c %a ${mp}/f`)).trim()).toBe("644");
    chmodSync(f, 0o600);
    appendFileSync(f, `${i}\n`);
    await Bun.sleep(1500);
    expect(statSync(f).mode & 0o777).toBe(0o600);
    chmodSync(f, 0o644);
    await Bun.sleep(1500); // the chmod's own replay, and the guest's cached attributes expire
  }
  await hmOk(["mount", "remove", NAME, mp]);
}, 300_000);

test("--no-watch: no replay; removing the last watched mount ends the guest helper", async () => {
  const a = join(root, "nw");
  const b = join(root, "yw");
  mkdirSync(a);
  mkdirSync(b);
  const m = await add(a, "/mnt/nw", "virtiofs", "--writable", "--no-watch");
  expect(m.watch).toBe(false);
  expect((await hmOk(["mount", "list", NAME])).stdout).toContain("nowatch");
  expect(await helperPids()).toBe("");
  await add(b, "/mnt/yw", "9p", "--writable");
  await waitFor("the guest helper", async () => (await helperPids()) !== "");
  await hmOk(["mount", "remove", NAME, "/mnt/yw"]);
  // Removal waits for the helper's channel to close, so it is gone already.
  expect(await helperPids()).toBe("");
  await hmOk(["mount", "remove", NAME, "/mnt/nw"]);
}, 300_000);

test("a 10,000-file burst: the guest's view ends consistent, and every path's last state gets an event", async () => {
  const host = join(root, "burst");
  mkdirSync(join(host, "a"), { recursive: true });
  const mp = "/mnt/burst";
  await add(host, mp, "virtiofs", "--writable");
  const w = await guestWatcher(mp);
  const N = 10_000;
  const attribs = (from = 0) =>
    new Set(
      w.lines
        .slice(from)
        .filter((l) => l.startsWith("ATTRIB "))
        .map((l) => l.slice("ATTRIB ".length)),
    );
  for (let i = 0; i < N; i++) writeFileSync(join(host, "a", `f${i}`), `first ${i}\n`);
  // The last state of a few: written again (a new size) once their first replay is done, while
  // the rest of the burst is still being replayed; each must get an event after that.
  const again = Array.from({ length: 100 }, (_, i) => `${mp}/a/f${i}`);
  await waitFor("the first files' events", () => again.every((p) => attribs().has(p)), 300_000);
  const from = w.lines.length;
  for (let i = 0; i < 100; i++) writeFileSync(join(host, "a", `f${i}`), `second state ${i}\n`);
  await waitFor(
    () => `ATTRIB for all ${N} files (${attribs().size}) and again for the rewritten ones`,
    () => attribs().size >= N && again.every((p) => attribs(from).has(p)),
    400_000,
  );
  expect(Number((await vm.sh(`ls ${mp}/a | wc -l`, 180_000)).trim())).toBe(N);
  // The rewritten ones (reading all 10,000 through virtiofs under TCG takes minutes).
  expect(
    Number((await vm.sh(`cd ${mp}/a && cat ${again.map((p) => p.slice(p.lastIndexOf("/") + 1)).join(" ")} | grep -c '^second state'`, 180_000)).trim()),
  ).toBe(100);
  expect(await vm.run(["cat", `${mp}/a/f7`])).toBe("second state 7\n");
  expect(await vm.run(["cat", `${mp}/a/f9999`])).toBe("first 9999\n");
  await w.close();
  await hmOk(["mount", "remove", NAME, mp]);
}, 900_000);

kindsCases({ name: NAME, root, ssh: () => ssh, waitFor, types: TYPES.map((t) => t.flag) });
nodeWatcherCases({ name: NAME, root, ssh: () => ssh, waitFor, types: TYPES.map((t) => t.flag) });
