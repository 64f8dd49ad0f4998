// On a real VM: reverse-sshfs and 9p end to end through the CLI and the agent
// (bytes both ways, read-only, list/remove, 30 cycles with nothing left, a killed sftp-server, an
// SSH drop, awkward host paths for every type, the umount deadline), and 9p on a VM without slots.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cVirtiofsdOptValue } from "../../drivers/qemu/virtiofsd.ts";
import { guestSshfsCommand } from "../../src/agent/transports/reverse-sshfs.ts";
import { guestMountArgv, reverseSshfsArgv, sftpServerArgs } from "../../src/core/mount-options.ts";
import { hm, hmOk } from "../helpers/cli.ts";
import { KINDS, median, ms, sha, transportKit } from "../helpers/transport-kit.ts";
import { useVm } from "../helpers/vm.ts";

const NAME = "tr";
const NINEP_SLOTS = 4;
const vm = useVm(NAME, ["--slots", "6", "--9p-slots", String(NINEP_SLOTS)]);
const root = mkdtempSync(`${tmpdir()}/hmt-tr-`);
afterAll(() => rmSync(root, { recursive: true, force: true }));
const { hostDir, add, list, waitFor, guestMounts, sftpServers, guest9pDevices, hostShas, guestShas, nothingLeft, snapshotBase } = transportKit(
  NAME,
  vm,
  root,
  NINEP_SLOTS,
);
beforeAll(() => snapshotBase());

describe("the options, as argv", () => {
  test("9p: 9p2000.L, msize 512000, cache=none, ro unless writable", () => {
    expect(guestMountArgv({ type: "9p", tag: "hm1", mountPoint: "/mnt/a b", writable: false })).toEqual([
      "mount",
      "-t",
      "9p",
      "-o",
      "trans=virtio,version=9p2000.L,msize=512000,cache=none,ro",
      "--",
      "hm1",
      "/mnt/a b",
    ]);
  });
  test("reverse-sshfs: passive, host uids, kernel permission checks, 1 s caches; sftp-server -R when read-only", () => {
    const a = reverseSshfsArgv("/h/x,y", "/mnt/x", false);
    expect(a).toEqual(["sshfs", "-f", "-o", "passive,idmap=none,allow_other,default_permissions,dcache_timeout=1,ro", ":/h/x,y", "/mnt/x"]);
    expect(sftpServerArgs("/h/50%", false)).toEqual(["-e", "-R", "-d", "/h/50%%"]);
    expect(sftpServerArgs("/h", true)).toEqual(["-e", "-d", "/h"]);
    // The prologue is constant; sshfs's argv follows it untouched.
    expect(guestSshfsCommand(a).slice(4)).toEqual(a);
  });
  test("the C virtiofsd's -o source= escapes commas and backslashes", () => {
    expect(cVirtiofsdOptValue(String.raw`/a,b\c d`)).toBe(String.raw`/a\,b\\c d`);
  });
});

describe.each(KINDS)("$type", (k) => {
  test("8 MiB and 1000 small files cross both ways with equal sha256; host edits show within 2 s", async () => {
    const host = hostDir(`data-${k.flag}`);
    const big = randomBytes(8 << 20);
    writeFileSync(join(host, "big.bin"), big);
    mkdirSync(join(host, "small"));
    for (let i = 0; i < 1000; i++) writeFileSync(join(host, "small", `f${i}`), randomBytes(1 + ((i * 37) % 4000)));
    const mp = `/mnt/data-${k.flag}`;
    const m = await add(host, mp, k, "--writable");
    expect(m).toMatchObject({ type: k.type, writable: true, state: "ready", mountPoint: mp, hostPath: host });
    const gm = (await guestMounts()).find((x) => x.mountPoint === mp);
    expect(gm?.fstype).toBe(k.fstype);
    expect(gm?.opts).toMatch(/^rw,/);

    const phases: string[] = [];
    const phase = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
      const t = performance.now();
      const v = await fn();
      phases.push(`${name} ${(ms(t) / 1000).toFixed(1)} s`);
      return v;
    };
    // host → guest
    expect((await phase("read 8 MiB", () => vm.run(["sha256sum", `${mp}/big.bin`]))).split(" ")[0]).toBe(sha(big));
    const fromHost = await phase("read 1000 files", () => guestShas(`${mp}/small`));
    expect(fromHost.length).toBe(1000);
    expect(fromHost).toEqual(hostShas(join(host, "small")));

    // guest → host: 8 MiB and 1000 files made in the guest's tmpfs (sha256 taken there), then
    // copied onto the mount (one write per small file, four copiers at a time).
    await vm.run(["sh", "-c", "dd if=/dev/urandom of=/tmp/big.bin bs=1M count=8 2>/dev/null"]);
    const guestBig = (await vm.run(["sha256sum", "/tmp/big.bin"])).split(" ")[0]!;
    await phase("write 8 MiB", () => vm.run(["sh", "-c", 'cp /tmp/big.bin "$1/from-guest.bin" && sync && rm /tmp/big.bin', "sh", mp]));
    expect(sha(readFileSync(join(host, "from-guest.bin")))).toBe(guestBig);
    await vm.run([
      "sh",
      "-c",
      'rm -rf /tmp/gsmall && mkdir /tmp/gsmall && cd /tmp/gsmall && awk \'BEGIN { srand(); for (i = 0; i < 1000; i++) { n = 1 + (i * 7) % 60; s = ""; for (j = 0; j < n; j++) s = s sprintf("%.15f\\n", rand()); f = "g" i; printf "%s", s > f; close(f) } }\'',
    ]);
    const made = await guestShas("/tmp/gsmall");
    expect(made.length).toBe(1000);
    await phase("write 1000 files", () =>
      vm.run(
        [
          "sh",
          "-c",
          `mkdir "$1/gsmall" && cd /tmp/gsmall && ls | xargs -P 4 -n 50 sh -c 'cp -- "$@" "$0"' "$1/gsmall" && sync && rm -rf /tmp/gsmall`,
          "sh",
          mp,
        ],
        600_000,
      ),
    );
    expect(hostShas(join(host, "gsmall"))).toEqual(made);
    console.error(`[${k.type}] ${phases.join(", ")}`);

    // A host edit of a file the guest has just read (and a new file in a listed folder) shows in
    // the guest within 2 s. sshfs's default caches would hide both for 20 s.
    writeFileSync(join(host, "edit"), "v1\n");
    expect(await vm.run(["cat", `${mp}/edit`])).toBe("v1\n");
    await vm.run(["ls", mp]);
    appendFileSync(join(host, "edit"), "v2 is longer\n");
    writeFileSync(join(host, "late"), "late\n");
    const t0 = performance.now();
    await waitFor(
      "the host edit in the guest",
      async () => (await vm.exec(["cat", `${mp}/edit`, `${mp}/late`])).stdout === "v1\nv2 is longer\nlate\n",
      2500,
      100,
    );
    console.error(`[${k.type}] host edit visible in the guest after ${Math.round(ms(t0))} ms`);
    await hmOk(["mount", "remove", NAME, mp]);
  }, 900_000);

  test("a read-only mount refuses writes, even after guest root remounts it rw", async () => {
    const host = hostDir(`ro-${k.flag}`);
    writeFileSync(join(host, "keep"), "keep\n");
    const mp = `/mnt/ro-${k.flag}`;
    const m = await add(host, mp, k); // read-only is the default
    expect(m).toMatchObject({ type: k.type, writable: false, state: "ready" });
    expect(await vm.run(["cat", `${mp}/keep`])).toBe("keep\n");
    const attempts = `cd "$1"; for c in "echo x > new" "echo x >> keep" "mkdir d" "rm keep" "chmod 777 keep" "mv keep moved" "ln -s keep l"; do sh -c "$c" 2>/dev/null && echo "WROTE: $c"; done; true`;
    expect(await vm.run(["sh", "-c", attempts, "sh", mp])).toBe("");
    // Guest root flips the guest's own ro flag: the host side (sftp-server -R / QEMU's
    // readonly fsdev) must still refuse.
    await vm.run(["mount", "-o", "remount,rw", mp]);
    expect((await guestMounts()).find((x) => x.mountPoint === mp)?.opts).toMatch(/^rw,/);
    expect(await vm.run(["sh", "-c", attempts, "sh", mp])).toBe("");
    const err = await vm.exec(["sh", "-c", 'echo x > "$1/new"', "sh", mp]);
    expect(err.stderr).toMatch(k.type === "9p" ? /Read-only file system/ : /Permission denied/);
    expect(readdirSync(host)).toEqual(["keep"]);
    expect(readFileSync(join(host, "keep"), "utf8")).toBe("keep\n");
    await hmOk(["mount", "remove", NAME, mp]);
  });

  test("mount list --json shows it; remove works by mount point and by id", async () => {
    const a = hostDir(`la-${k.flag}`);
    const b = hostDir(`lb-${k.flag}`);
    const ma = await add(a, "/mnt/la", k);
    const mb = await add(b, "/srv/lb/deep", k, "--writable");
    const l = await list();
    expect(l.length).toBe(2);
    const la = l.find((m) => m.id === ma.id);
    const lb = l.find((m) => m.id === mb.id);
    expect(la).toMatchObject({ instance: NAME, hostPath: a, mountPoint: "/mnt/la", type: k.type, writable: false, state: "ready", persist: false });
    expect(lb).toMatchObject({ hostPath: b, mountPoint: "/srv/lb/deep", type: k.type, writable: true, state: "ready" });
    expect(Number.isNaN(Date.parse(la.createdAt))).toBe(false);
    if (k.type === "9p") {
      expect(la.tag).toBe(ma.id);
      expect(la.slot).toMatch(/^hp\d+$/);
      expect(lb.slot).not.toBe(la.slot);
    } else {
      expect(la.tag).toBeUndefined();
      expect(la.slot).toBeUndefined();
      expect(sftpServers().length).toBe(2);
    }
    // The table view has the same rows.
    const table = (await hmOk(["mount", "list", NAME])).stdout;
    expect(table).toContain(ma.id);
    expect(table).toContain("/srv/lb/deep");

    const byMp = (await hmOk(["mount", "remove", NAME, "/mnt/la", "--json"])).json();
    expect(byMp).toEqual({ id: ma.id, mountPoint: "/mnt/la", removed: true });
    expect((await list()).map((m) => m.id)).toEqual([mb.id]);
    await hmOk(["mount", "rm", NAME, mb.id]);
    // The guest folders hotmount made are gone again (/srv/lb/deep only: /srv/lb was made by mkdir -p).
    expect((await vm.exec(["test", "-e", "/mnt/la"])).code).not.toBe(0);
    expect((await vm.exec(["test", "-e", "/srv/lb/deep"])).code).not.toBe(0);
    await vm.run(["rm", "-rf", "/srv/lb"]);
    const again = await hm(["mount", "remove", NAME, mb.id, "--json"]);
    expect(again.code).toBe(3);
    expect(again.json().error.code).toBe("MOUNT_NOT_FOUND");
    await nothingLeft();
  });

  test("30 add/remove cycles leave no process, device, slot or guest mount", async () => {
    // Two folders in turn: each cycle must show the folder it was given (a 9p slot is re-pointed
    // every time; a stale link would show the other one).
    const dirs = [hostDir(`cyc-${k.flag}`, "a"), hostDir(`cyc-${k.flag}`, "b")];
    dirs.forEach((d, i) => writeFileSync(join(d, "which"), `${"ab"[i]}\n`));
    const adds: number[] = [];
    const removes: number[] = [];
    for (let i = 0; i < 30; i++) {
      let t0 = performance.now();
      await hmOk(["mount", "add", NAME, dirs[i % 2]!, "/mnt/cyc", "--type", k.flag]);
      adds.push(ms(t0));
      expect(await vm.run(["cat", "/mnt/cyc/which"])).toBe(`${"ab"[i % 2]}\n`);
      t0 = performance.now();
      await hmOk(["mount", "remove", NAME, "/mnt/cyc"]);
      removes.push(ms(t0));
    }
    // The CLI's own start-up is part of each figure; `mount list` alone shows how much.
    let t0 = performance.now();
    await hmOk(["mount", "list", NAME]);
    const cli = ms(t0);
    console.error(
      `[${k.type}] 30 cycles through the CLI: add median ${median(adds).toFixed(0)} ms (max ${Math.max(...adds).toFixed(0)}), remove median ${median(removes).toFixed(0)} ms (max ${Math.max(...removes).toFixed(0)}); a bare \`mount list\` takes ${cli.toFixed(0)} ms`,
    );
    expect((await vm.exec(["test", "-e", "/mnt/cyc"])).code).not.toBe(0);
    await nothingLeft();
  }, 600_000);

  test("remove refuses while a guest process uses the mount, keeps it working, and --force takes it", async () => {
    const host = hostDir(`busy-${k.flag}`);
    writeFileSync(join(host, "f"), "f\n");
    const m = await add(host, "/mnt/busy", k);
    await vm.run(["sh", "-c", "cd /mnt/busy && exec setsid sleep 3600 </dev/null >/dev/null 2>&1 &"]);
    const r = await hm(["mount", "remove", NAME, "/mnt/busy", "--json"]);
    expect(r.code).toBe(9);
    expect(r.json().error.code).toBe("MOUNT_BUSY");
    expect(r.json().error.message).toMatch(/held by \d+ sleep/);
    // Nothing was taken away: still listed ready, still mounted and served.
    expect((await list()).find((x) => x.id === m.id)?.state).toBe("ready");
    expect(await vm.run(["cat", "/mnt/busy/f"])).toBe("f\n");
    if (k.type === "reverse-sshfs") expect(sftpServers().length).toBe(1);
    else expect((await guest9pDevices()).length).toBe(1);
    await hmOk(["mount", "remove", NAME, "/mnt/busy", "--force"]);
    expect((await vm.exec(["sh", "-c", "ps | grep -v grep | grep 'sleep 3600'"])).stdout).toBe("");
    await nothingLeft();
  });
});
