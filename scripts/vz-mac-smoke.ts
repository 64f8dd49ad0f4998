// On a Mac: boots a VZ VM through the VZ driver in this process, hot-mounts host folders through
// the spare virtio-fs devices, checks bytes both ways, checks read-only, removes, reuses a device,
// and powers off. This is the verification docs/vz.md describes; nothing in CI runs it.
//
//   scripts/build-dylib && scripts/codesign --dev-bun
//   dist/vz/bun-vz scripts/vz-mac-smoke.ts --kernel Image --initrd initrd --disk disk.raw \
//       [--append "root=/dev/vda1 rw"] [--user dev] [--keep]
//
// The disk is cloned (APFS clone) before boot; a cloud-init NoCloud seed that creates --user with a
// fresh SSH key is attached as a second disk.
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { asFSHotPlugger, type PluggedDevice } from "../drivers/driver.ts";
import { InstanceConfig } from "../src/core/instance-config.ts";
import { instancePaths } from "../src/core/paths.ts";
import { VzDriver } from "../drivers/vz/vz-driver.ts";

const { values: a } = parseArgs({
  options: {
    kernel: { type: "string" },
    initrd: { type: "string" },
    disk: { type: "string" },
    append: { type: "string", default: "root=/dev/vda1 rw" },
    user: { type: "string", default: "dev" },
    keep: { type: "boolean", default: false },
  },
});
if (!a.kernel || !a.disk) {
  console.error("usage: scripts/vz-mac-smoke.ts --kernel Image [--initrd initrd] --disk disk.raw [--append ...] [--user dev] [--keep]");
  process.exit(2);
}

const work = mkdtempSync(join(tmpdir(), "hotmount-vz-smoke-"));
process.env.HOTMOUNT_HOME = join(work, "home");
const t0 = Date.now();
const say = (s: string) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${s}`);
const failures: string[] = [];
function expectEq(what: string, got: unknown, want: unknown) {
  const ok = JSON.stringify(got) === JSON.stringify(want);
  say(`${ok ? "PASS" : "FAIL"} ${what}${ok ? "" : `: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`}`);
  if (!ok) failures.push(what);
}

function run(argv: string[], input?: string) {
  const r = Bun.spawnSync(argv, { stdin: input === undefined ? "ignore" : Buffer.from(input), stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, out: r.stdout.toString().trim(), err: r.stderr.toString().trim() };
}
function must(argv: string[]) {
  const r = run(argv);
  if (r.code !== 0) throw new Error(`${argv.join(" ")} failed: ${r.err}`);
  return r.out;
}
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

// The guest: a clone of the disk and a NoCloud seed with a fresh key.
const disk = join(work, "disk.raw");
if (run(["cp", "-c", a.disk, disk]).code !== 0) must(["cp", a.disk, disk]);
const key = join(work, "id_ed25519");
must(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key]);
const seedDir = join(work, "seed");
mkdirSync(seedDir);
writeFileSync(join(seedDir, "meta-data"), `instance-id: hotmount-smoke-${randomBytes(4).toString("hex")}\nlocal-hostname: hm-vz-smoke\n`);
writeFileSync(
  join(seedDir, "user-data"),
  `#cloud-config\nusers:\n  - name: ${a.user}\n    sudo: "ALL=(ALL) NOPASSWD:ALL"\n    shell: /bin/sh\n    ssh_authorized_keys: ["${readFileSync(`${key}.pub`, "utf8").trim()}"]\n`,
);
const seed = join(work, "seed.iso");
must(["hdiutil", "makehybrid", "-quiet", "-iso", "-joliet", "-default-volume-name", "cidata", "-o", seed, seedDir]);

const cfg = InstanceConfig.parse({
  name: "vz-smoke",
  driver: "vz",
  memoryMiB: 2048,
  cpus: 2,
  slots: 2,
  kernel: a.kernel,
  initrd: a.initrd,
  append: a.append,
  ssh: { host: "127.0.0.1", port: 0, user: a.user, identityFile: key }, // 0: the driver picks one at start
});
const sshBase = () => [
  "ssh",
  "-i",
  key,
  "-p",
  String(cfg.ssh.port),
  "-o",
  "BatchMode=yes",
  "-o",
  "StrictHostKeyChecking=no",
  "-o",
  "UserKnownHostsFile=/dev/null",
  "-o",
  "LogLevel=ERROR",
  `${a.user}@127.0.0.1`,
];
const guest = (cmd: string) => run([...sshBase(), cmd]);

/** Mounts a tag in the guest, retrying briefly (the first mount may race module loading). */
async function guestMount(tag: string, at: string): Promise<boolean> {
  for (let i = 0; i < 10; i++) {
    if (guest(`sudo modprobe virtiofs 2>/dev/null; sudo mkdir -p ${at} && sudo mount -t virtiofs ${tag} ${at}`).code === 0) return true;
    await Bun.sleep(500);
  }
  return false;
}

const driver = new VzDriver({
  disks: [
    { path: disk, readOnly: false },
    { path: seed, readOnly: true },
  ],
  bootTimeoutMs: 300_000,
});
const progress = (s: string) => say(`  ${s}`);
const log = {
  info: (m: string, f?: object) => say(`  log ${m} ${JSON.stringify(f ?? {})}`),
  warn: (m: string, f?: object) => say(`  WARN ${m} ${JSON.stringify(f ?? {})}`),
  error: (m: string) => say(`  ERROR ${m}`),
};

say(`booting (serial log: ${instancePaths("vz-smoke").serialLog})`);
await driver.start(cfg, progress);
const session = await driver.openSession(cfg, log);
const hp = asFSHotPlugger(session)!;
try {
  // Cloud-init may still be creating the user when sshd first answers.
  for (let i = 0; i < 60 && guest("true").code !== 0; i++) await Bun.sleep(2000);
  say(`guest: ${guest("uname -a").out}`);
  expectEq("transports", await hp.transports(), [
    { type: "virtiofs", available: true },
    { type: "9p", available: false, reason: "Virtualization.framework has no 9p device" },
    { type: "reverse-sshfs", available: true },
  ]);

  const rw = join(work, "rw");
  const ro = join(work, "ro");
  mkdirSync(rw);
  mkdirSync(ro);
  const fromHost = randomBytes(1 << 20);
  writeFileSync(join(rw, "from-host.bin"), fromHost);
  writeFileSync(join(ro, "marker"), "read-only folder\n");

  const dRw: PluggedDevice = await hp.plug({ id: "smoke-rw", type: "virtiofs", hostPath: rw, writable: true }, progress);
  expectEq("mount writable share", await guestMount(dRw.tag, "/mnt/rw"), true);
  expectEq("host -> guest bytes", guest("sha256sum /mnt/rw/from-host.bin").out.split(" ")[0], sha(fromHost));
  const gsum = guest("head -c 1048576 /dev/urandom > /tmp/g.bin && cp /tmp/g.bin /mnt/rw/from-guest.bin && sync && sha256sum /tmp/g.bin").out.split(" ")[0];
  expectEq("guest -> host bytes", sha(readFileSync(join(rw, "from-guest.bin"))), gsum);

  const dRo = await hp.plug({ id: "smoke-ro", type: "virtiofs", hostPath: ro, writable: false }, progress);
  expectEq("mount read-only share", await guestMount(dRo.tag, "/mnt/ro"), true);
  expectEq("read-only share is readable", guest("cat /mnt/ro/marker").out, "read-only folder");
  expectEq("read-only share refuses writes", guest("sudo touch /mnt/ro/nope").code !== 0, true);

  expectEq("guest unmounts", guest("sudo umount /mnt/rw && sudo umount /mnt/ro").code, 0);
  await hp.unplug(dRw, progress);
  await hp.unplug(dRo, progress);
  expectEq("a freed device shows the empty placeholder", (await guestMount(dRw.tag, "/mnt/rw")) && guest("ls -A /mnt/rw").out, "");
  guest("sudo umount /mnt/rw");

  const again = join(work, "again");
  mkdirSync(again);
  writeFileSync(join(again, "marker"), "second folder\n");
  const dAgain = await hp.plug({ id: "smoke-again", type: "virtiofs", hostPath: again, writable: false }, progress);
  expectEq("the freed device is reused", dAgain.tag, dRw.tag);
  expectEq("the reused device shows the new folder", (await guestMount(dAgain.tag, "/mnt/again")) && guest("cat /mnt/again/marker").out, "second folder");
  guest("sudo umount /mnt/again");
  await hp.unplug(dAgain, progress);
  expectEq("capacity after removal", await hp.capacity(), { total: 2, used: 0 });
} catch (e) {
  failures.push(String(e));
  say(`ERROR ${e instanceof Error ? e.stack : String(e)}`);
} finally {
  await session.powerOff(progress);
  expectEq("powered off", (await driver.status(cfg)).state, "stopped");
}
say(failures.length ? `FAILED: ${failures.join("; ")}` : "ALL PASSED");
if (a.keep) say(`kept ${work}`);
else rmSync(work, { recursive: true, force: true });
process.exit(failures.length ? 1 : 0);
