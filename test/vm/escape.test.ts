// Guest root against the share's boundary, on every transport, read-only and writable: nothing
// outside the shared folder is read or written through `..`, absolute or relative symlinks,
// a directory the host swaps for a symlink while the guest walks through it, or hard links;
// no device node appears in the host folder; a read-only share stays read-only after guest
// root remounts it rw. Runs on whichever host stack is configured (scripts/test runs it on
// Debian 12's and again on QEMU 10 with the Rust virtiofsd).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hmOk } from "../helpers/cli.ts";
import { useVm } from "../helpers/vm.ts";

const NAME = "esc";
const vm = useVm(NAME, ["--memory", "384M"]);
const TRANSPORTS = ["virtiofs", "9p", "reverse-sshfs"] as const;
const MODES = ["read-only", "writable"] as const;
const SECRET = `host-secret-${Math.random().toString(36).slice(2)}`;
let root: string;
let outside: string;
let secret: string;

beforeAll(() => {
  root = mkdtempSync(`${tmpdir()}/hmt-esc-`);
  // The host folder beside every share, with a file no guest may read or link to.
  outside = join(root, "outside");
  mkdirSync(outside);
  secret = join(outside, "secret.txt");
  writeFileSync(secret, SECRET);
  chmodSync(secret, 0o600);
});
afterAll(() => root && rmSync(root, { recursive: true, force: true }));

/** A share beside `outside`: a file, a folder d/ with its own secret.txt, host-made links out. */
function share(name: string): string {
  const d = join(root, name);
  mkdirSync(join(d, "d"), { recursive: true });
  writeFileSync(join(d, "keep.txt"), "keep");
  writeFileSync(join(d, "d", "secret.txt"), "inside");
  symlinkSync(secret, join(d, "host-abs"));
  symlinkSync("../outside/secret.txt", join(d, "host-rel"));
  symlinkSync(outside, join(d, "host-dir"));
  return d;
}

/** Every block or character device under d (there must be none). */
function devices(d: string): string[] {
  const out: string[] = [];
  const walk = (p: string) => {
    for (const n of readdirSync(p)) {
      const f = join(p, n);
      const st = lstatSync(f);
      if (st.isBlockDevice() || st.isCharacterDevice()) out.push(f);
      if (st.isDirectory()) walk(f);
    }
  };
  walk(d);
  return out;
}

/** The outside folder is as it was: one file, one link to it, its content. */
function outsideUntouched(): void {
  expect(readdirSync(outside)).toEqual(["secret.txt"]);
  expect(statSync(secret).nlink).toBe(1);
  expect(readFileSync(secret, "utf8")).toBe(SECRET);
}

describe.each(TRANSPORTS)("%s", (type) => {
  describe.each(MODES)("%s", (mode) => {
    const writable = mode === "writable";
    const tag = `${type}-${writable ? "rw" : "ro"}`;
    const mp = `/mnt/esc-${tag}`;
    let host: string;
    let n = 0;

    // Each test gets a fresh share (the VM helper removes every mount after each test).
    async function mountShare(): Promise<void> {
      host = share(`share-${tag}-${++n}`);
      await hmOk(["mount", "add", NAME, host, mp, "--type", type, ...(writable ? ["--writable"] : [])]);
      expect(await vm.run(["cat", `${mp}/keep.txt`])).toBe("keep");
    }

    test("`..`, symlinks (host-made and guest-made), hard links out, device nodes; read-only survives remount,rw", async () => {
      await mountShare();
      if (writable) {
        await vm.run(["ln", "-s", secret, `${mp}/guest-abs`]);
        await vm.run(["ln", "-s", "../outside/secret.txt", `${mp}/guest-rel`]);
        await vm.run(["ln", "-s", outside, `${mp}/guest-dir`]);
      }
      // Reads through `..` and every link out; writes through them; hard links to what they name.
      const attempts = [
        `cat ${mp}/../outside/secret.txt`,
        `cat ${mp}/d/../../outside/secret.txt`,
        `cat ${mp}/host-abs`,
        `cat ${mp}/host-rel`,
        `cat ${mp}/host-dir/secret.txt`,
        `echo x > ${mp}/host-dir/escaped`,
        `echo x > ${mp}/host-abs`,
        `echo x > ${mp}/d/../../outside/escaped2`,
        `ln ${mp}/host-abs ${mp}/hl-abs`,
        `ln -L ${mp}/host-abs ${mp}/hl-abs-followed`,
        `ln ${mp}/../outside/secret.txt ${mp}/hl-dotdot`,
        `ln /etc/hostname ${mp}/hl-guest-file`,
        `ln -L ${mp}/host-dir/secret.txt ${mp}/hl-dir`,
        `mknod ${mp}/null c 1 3`,
        `mknod ${mp}/mem c 1 1`,
        `mknod ${mp}/disk b 254 0`,
      ];
      if (writable) {
        attempts.push(`cat ${mp}/guest-abs`, `cat ${mp}/guest-rel`, `cat ${mp}/guest-dir/secret.txt`);
        attempts.push(`echo x > ${mp}/guest-dir/escaped3`, `echo x >> ${mp}/guest-abs`, `ln -L ${mp}/guest-abs ${mp}/hl-guest-abs`);
      }
      attempts.push(`for f in ${mp}/hl-*; do cat "$f"; done`);
      const out = await vm.run(["sh", "-c", 'for a in "$@"; do sh -c "$a" 2>/dev/null; done; exit 0', "sh", ...attempts]);
      expect(out).not.toContain(SECRET);
      outsideUntouched();
      expect(devices(host)).toEqual([]);
      // A hard link inside the share: only when writable (sshfs may lack the hardlink extension).
      const inside = await vm.exec(["ln", `${mp}/keep.txt`, `${mp}/hl-keep`]);
      if (!writable) expect(inside.code).not.toBe(0);
      else if (type !== "reverse-sshfs") expect(statSync(join(host, "keep.txt")).nlink).toBe(2);
      if (writable) return;
      await vm.exec(["mount", "-o", "remount,rw", mp]);
      for (const w of [`touch ${mp}/new`, `echo x >> ${mp}/keep.txt`, `ln ${mp}/keep.txt ${mp}/hl-after`, `mknod ${mp}/null2 c 1 3`, `mkdir ${mp}/dd`]) {
        const r = await vm.exec(["sh", "-c", w]);
        if (r.code === 0) throw new Error(`${type}: "${w}" succeeded on a read-only share after remount,rw`);
      }
      expect(readdirSync(host).sort()).toEqual(["d", "host-abs", "host-dir", "host-rel", "keep.txt"]);
      expect(readFileSync(join(host, "keep.txt"), "utf8")).toBe("keep");
    });

    test("a folder the host swaps for a symlink to outside while the guest reads and writes through it", async () => {
      await mountShare();
      const stop = join(root, `stop-${tag}`);
      const count = join(root, `count-${tag}`);
      // The host swaps d/ for a symlink to the outside folder and back, as fast as it can.
      const swapper = Bun.spawn(
        [
          "sh",
          "-c",
          'cd "$1" && n=0; while [ ! -e "$2" ]; do mv d d.tmp && ln -s "$3" d && rm d && mv d.tmp d; n=$((n+1)); echo $n > "$4"; done',
          "swap",
          host,
          stop,
          outside,
          count,
        ],
        { stdout: "ignore", stderr: "ignore" },
      );
      try {
        const deadline = Date.now() + 30_000;
        while (!existsSync(count) && Date.now() < deadline) await Bun.sleep(20);
        expect(existsSync(count)).toBe(true);
        // Every sshfs request is an SSH round trip through the emulated CPU: fewer rounds there.
        const rounds = type === "reverse-sshfs" ? 30 : 100;
        const write = writable ? `echo w > ${mp}/d/w$i 2>/dev/null; ` : "";
        const out = await vm.sh(`i=0; while [ $i -lt ${rounds} ]; do cat ${mp}/d/secret.txt 2>/dev/null; ${write}i=$((i+1)); done; exit 0`, 240_000);
        expect(out).not.toContain(SECRET);
      } finally {
        writeFileSync(stop, "");
        await swapper.exited;
      }
      // The host swapped all along, and once it stops the same path reads the inside file again
      // (sshfs may still cache the symlink for a second): the reads above could succeed.
      expect(Number(readFileSync(count, "utf8"))).toBeGreaterThan(10);
      let after = "";
      let why = "";
      for (let i = 0; i < 40 && after !== "inside"; i++) {
        const r = await vm.exec(["cat", `${mp}/d/secret.txt`]);
        after = r.stdout;
        why = r.stderr.trim();
        if (after !== "inside") await Bun.sleep(250);
      }
      if (after !== "inside") {
        // What the guest and the host see then, so a failure here can be explained.
        const seen = await vm.exec([
          "sh",
          "-c",
          `ls -la ${mp} ${mp}/d; grep ' ${mp} ' /proc/mounts; ps -o pid,stat,args | grep -E 'sshfs|watch' | grep -v grep`,
        ]);
        console.log(
          `${type} ${mode}: the guest reads ${JSON.stringify(after)} (${why}) after the swaps stopped; guest:\n${seen.stdout}${seen.stderr}host d: ${lstatSync(join(host, "d")).isDirectory() ? "a folder" : "not a folder"}`,
        );
      }
      // Known, reverse-sshfs only (seen in 2 of ~12 runs here, and on a fresh machine): the guest
      // kernel's FUSE node for d/, flipped between folder and symlink under the same node id,
      // stays EIO after the swaps stop (sshfs keeps one node per name). Nothing leaked (above);
      // a fresh mount reads the inside file again. docs/transports.md, "Known problems".
      if (type === "reverse-sshfs" && after !== "inside" && why.includes("Input/output error")) {
        console.log(`${type} ${mode}: known: d/ stays EIO in the guest after the swaps; checked through a fresh mount`);
        await hmOk(["mount", "remove", NAME, mp, "--force"]);
        await hmOk(["mount", "add", NAME, host, mp, "--type", type, ...(writable ? ["--writable"] : [])]);
        after = (await vm.exec(["cat", `${mp}/d/secret.txt`])).stdout;
      }
      expect(after).toBe("inside");
      expect(lstatSync(join(host, "d")).isDirectory()).toBe(true);
      outsideUntouched();
    });
  });
});
