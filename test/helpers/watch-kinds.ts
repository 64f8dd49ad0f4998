// The `--watch=kinds` cases, run on a booted guest by test/vm/watch.test.ts (the demo guest) and
// test/vm/debian-guest.test.ts (Debian's own kernel): inotifywait sees host creates, deletes and
// renames as CREATE, DELETE, MOVED_FROM/TO on every transport, and a host writer racing the
// replays loses no byte and sees no change it did not make.
import { expect, test } from "bun:test";
import { appendFileSync, chmodSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { GuestSsh } from "../../src/guest-exec/ssh-client.ts";
import { channelLines } from "./channel-lines.ts";
import { hmOk } from "./cli.ts";

/** inotifywait -m -r in the guest: every event line as "EVENTS path" (e.g. "MOVED_TO /mnt/k/b"). */
async function inotifywait(ssh: GuestSsh, mp: string, waitFor: (what: string, fn: () => boolean) => Promise<unknown>) {
  // Ends when the channel's stdin closes (dropbear forwards no signals).
  const out = channelLines(
    await ssh.channel(["sh", "-c", 'inotifywait -m -r -e create,delete,moved_from,moved_to --format "%e %w%f" "$1" & read x; kill $!', "sh", mp]),
  );
  await waitFor("inotifywait's watches", () => out.stderr().includes("Watches established"));
  return out;
}

export type WaitFor = <T>(what: string | (() => string), fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs?: number) => Promise<T>;

/** Polls fn every 50 ms until it gives a value; the error names what it waited for and, if asked, what it saw. */
export async function waitFor<T>(
  what: string | (() => string),
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 20_000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === "string" ? what : what()}`);
    await Bun.sleep(50);
  }
}

export function kindsCases(o: { name: string; root: string; ssh: () => GuestSsh; waitFor: WaitFor; types: string[] }) {
  const { name, root, waitFor } = o;
  test.each(o.types)(
    "--watch=kinds on %s: inotifywait sees host create, delete, mkdir, rmdir and renames as their kinds",
    async (flag) => {
      const host = join(root, `kinds-${flag}`);
      mkdirSync(join(host, "a"), { recursive: true });
      const mp = `/mnt/k-${flag}`;
      const m = (await hmOk(["mount", "add", name, host, mp, "--type", flag, "--writable", "--watch=kinds", "--json"])).json();
      expect(m.watchKinds).toBe(true);
      const w = await inotifywait(o.ssh(), mp, waitFor);
      const step = async (what: () => void, want: string[]) => {
        const from = w.lines.length;
        what();
        await waitFor(
          () => `${want.join(" + ")} (saw: ${w.lines.slice(from).join(" | ")})`,
          () => want.every((e) => w.lines.slice(from).includes(e)),
        );
        // Nothing besides: each host action is one kind, as a local change would be.
        expect(w.lines.slice(from).filter((l) => !want.includes(l))).toEqual([]);
      };
      await step(() => writeFileSync(join(host, "new"), "n\n"), [`CREATE ${mp}/new`]);
      await step(() => rmSync(join(host, "new")), [`DELETE ${mp}/new`]);
      await step(() => mkdirSync(join(host, "d")), [`CREATE,ISDIR ${mp}/d`]);
      await step(() => rmSync(join(host, "d"), { recursive: true }), [`DELETE,ISDIR ${mp}/d`]);
      writeFileSync(join(host, "r1"), "r\n");
      await waitFor("r1", () => w.lines.includes(`CREATE ${mp}/r1`));
      await Bun.sleep(1000); // the steps apart, as a user would make them
      await step(() => renameSync(join(host, "r1"), join(host, "r2")), [`MOVED_FROM ${mp}/r1`, `MOVED_TO ${mp}/r2`]);
      await Bun.sleep(1000);
      await step(() => renameSync(join(host, "r2"), join(host, "a", "r3")), [`MOVED_FROM ${mp}/r2`, `MOVED_TO ${mp}/a/r3`]);
      // The guest reads the host's bytes through the layer, and its own writes reach the host.
      expect(await o.ssh().run(["cat", `${mp}/a/r3`])).toBe("r\n");
      const from = w.lines.length;
      await o.ssh().run(["sh", "-c", `echo guest > ${mp}/g && mv ${mp}/g ${mp}/a/g2`]);
      expect(readFileSync(join(host, "a", "g2"), "utf8")).toBe("guest\n");
      await waitFor("the guest's own events", () => w.lines.slice(from).includes(`MOVED_TO ${mp}/a/g2`));
      // ... and are not replayed back: a host marker afterwards comes after anything that would be.
      await step(() => writeFileSync(join(host, "marker"), "m\n"), [`CREATE ${mp}/marker`]);
      const own = w.lines.slice(from).filter((l) => l.endsWith("/g") || l.endsWith("/g2"));
      expect(own).toEqual([`CREATE ${mp}/g`, `MOVED_FROM ${mp}/g`, `MOVED_TO ${mp}/a/g2`]);
      await w.close();
      await hmOk(["mount", "remove", name, mp]);
      // The layer went with the mount.
      expect(await o.ssh().run(["sh", "-c", "grep -c fuse.hotmount /proc/mounts || true"])).toBe("0\n");
    },
    300_000,
  );

  test("--watch=kinds: a host writer racing the replays loses no byte and sees no change it did not make", async () => {
    const host = join(root, "kinds-race");
    mkdirSync(join(host, "sub"), { recursive: true });
    const mp = "/mnt/k-race";
    await hmOk(["mount", "add", name, host, mp, "--writable", "--watch=kinds"]);
    const w = await inotifywait(o.ssh(), mp, waitFor);
    // The host's own record of what it did: every name it left, with its bytes and mode.
    const want = new Map<string, { data: string; mode: number }>();
    let log = "";
    for (let i = 0; i < 60; i++) {
      const chunk = `${i} ${"x".repeat(i * 37)}\n`;
      appendFileSync(join(host, "log"), chunk); // appended to all along, replayed all along
      log += chunk;
      const f = `f${i}`;
      writeFileSync(join(host, f), chunk);
      chmodSync(join(host, f), i % 2 ? 0o600 : 0o644);
      want.set(f, { data: chunk, mode: i % 2 ? 0o600 : 0o644 });
      if (i % 3 === 1) {
        renameSync(join(host, f), join(host, "sub", f)); // replayed as a rename in the guest
        want.set(`sub/${f}`, want.get(f)!);
        want.delete(f);
      } else if (i % 3 === 2) {
        rmSync(join(host, f)); // replayed as an unlink in the guest
        want.delete(f);
      }
      if (i % 10 === 0) {
        mkdirSync(join(host, `d${i}`));
        if (i % 20 === 0) rmSync(join(host, `d${i}`), { recursive: true });
      }
      await Bun.sleep(i % 7 === 0 ? 120 : 15);
    }
    want.set("log", { data: log, mode: statSync(join(host, "log")).mode & 0o777 });
    // Everything has been replayed once a marker made after it has.
    writeFileSync(join(host, "marker"), "m\n");
    want.set("marker", { data: "m\n", mode: statSync(join(host, "marker")).mode & 0o777 });
    await waitFor("the marker's CREATE", () => w.lines.includes(`CREATE ${mp}/marker`), 120_000);
    const files = (dir: string): string[] =>
      readdirSync(join(host, dir), { withFileTypes: true }).flatMap((e) => {
        const rel = dir ? `${dir}/${e.name}` : e.name;
        return e.isDirectory() ? files(rel) : [rel];
      });
    expect(files("").sort()).toEqual([...want.keys()].sort());
    for (const [rel, { data, mode }] of want) {
      expect(readFileSync(join(host, rel), "utf8")).toBe(data);
      expect(statSync(join(host, rel)).mode & 0o777).toBe(mode);
    }
    expect(
      readdirSync(host)
        .filter((n) => n.startsWith("d"))
        .sort(),
    ).toEqual(["d10", "d30", "d50"]);
    // The guest sees the same tree and bytes.
    expect((await o.ssh().run(["sh", "-c", `cd ${mp} && find . -type f | sort`])).trim().split("\n")).toEqual([...want.keys()].map((k) => `./${k}`).sort());
    expect(await o.ssh().run(["cat", `${mp}/log`])).toBe(log);
    // Every name the host left appeared to the guest's watcher as made or moved there. (A name
    // the host made and renamed within one flush reaches the guest as a create at its new name.)
    for (const rel of want.keys()) expect(w.lines.some((l) => l === `CREATE ${mp}/${rel}` || l === `MOVED_TO ${mp}/${rel}`)).toBe(true);
    await w.close();
    await hmOk(["mount", "remove", name, mp]);
  }, 600_000);
}
