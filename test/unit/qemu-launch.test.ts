// QEMU's launch line: as root it runs without CAP_MKNOD, so a 9p share cannot make device nodes
// in the host folder for guest root (QEMU 10 passes the guest's mknod through). The check runs
// the real launch prefix around a shell instead of QEMU.
import { afterAll, expect, test } from "bun:test";
import { existsSync, lstatSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { qemuLaunchArgv } from "../../drivers/qemu/host-tools.ts";

const dir = mkdtempSync(`${tmpdir()}/hmt-launch-`);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("not root: the command line is QEMU's own", () => {
  expect(qemuLaunchArgv(["qemu-system-x86_64", "-m", "512M"], 1000)).toEqual(["qemu-system-x86_64", "-m", "512M"]);
});

test.skipIf(process.getuid?.() !== 0)("root: what it launches cannot make a device node, but a fifo it can", () => {
  const argv = qemuLaunchArgv(["sh", "-c", 'mknod "$1/null" c 1 3; mkfifo "$1/fifo"', "sh", dir], 0);
  expect(argv.slice(-5)).toEqual(["sh", "-c", 'mknod "$1/null" c 1 3; mkfifo "$1/fifo"', "sh", dir]);
  const r = Bun.spawnSync(argv, { stderr: "pipe" });
  expect(r.stderr.toString()).toMatch(/Operation not permitted/);
  expect(existsSync(join(dir, "null"))).toBe(false);
  expect(lstatSync(join(dir, "fifo")).isFIFO()).toBe(true);
});
