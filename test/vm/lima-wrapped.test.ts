// Lima with the wrapper, on a real VM: a Lima-shaped instance under a temporary
// LIMA_HOME, QEMU started the way Lima starts it ($QEMU_SYSTEM_X86_64 = hotmount's installed
// wrapper, with Lima's probes first and then Lima's argument list from test/fixtures/lima), and
// then hotmount: `vm list` sees it as driver lima; virtiofs, 9p and reverse-sshfs hot-mount into
// it; Lima's own virtiofs share and QMP socket keep working beside hotmount's.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startVirtiofsd, stopVirtiofsd, type RunningVirtiofsd } from "../../drivers/qemu/virtiofsd.ts";
import { QmpClient } from "../../src/qmp/index.ts";
import { GuestSsh } from "../../src/guest-exec/ssh-client.ts";
import { instancePaths } from "../../src/core/paths.ts";
import { cmdlineOf, isAlive, readPidFile, waitUntil } from "../../src/util/process.ts";
import { hm, hmOk } from "../helpers/cli.ts";
import { type LimaQemu, stopLimaQemu, waitAgentGone, waitLimaBooted } from "../helpers/lima-vm.ts";
import { makeLimaInstance, type LimaShaped } from "../fixtures/lima/lima-home.ts";
import { LIMA_PROBES } from "../fixtures/lima/qemu-argv.ts";

let root: string;
let lima: LimaShaped;
let shim: string;
let qemu: LimaQemu | null = null;
let limaShareD: RunningVirtiofsd | null = null;
let ssh: GuestSsh;
const env = () => ({ LIMA_HOME: join(root, "lima") });
const guest = async (cmd: string) => {
  const r = await ssh.exec(["sh", "-c", cmd], { timeoutMs: 60_000 });
  if (r.code !== 0) {
    // Exit 255 with nothing on stderr: the command was killed, or its channel closed with no exit status.
    const dmesg = await ssh.exec(["sh", "-c", "dmesg | tail -n 15"], { timeoutMs: 15_000 }).catch((e: Error) => ({ stdout: e.message }));
    throw new Error(
      `guest: ${cmd}: exit ${r.code}: stderr ${JSON.stringify(r.stderr)}, stdout ${JSON.stringify(r.stdout)}; the guest's last kernel lines:\n${dmesg.stdout}`,
    );
  }
  return r.stdout;
};

beforeAll(async () => {
  root = mkdtempSync(`${tmpdir()}/hml-`);
  mkdirSync(join(root, "share"));
  writeFileSync(join(root, "share", "lima-own.txt"), "lima's own share\n");
  lima = await makeLimaInstance({ home: join(root, "lima"), name: "lw", mountType: "virtiofs", mounts: [{ location: join(root, "share"), writable: false }] });
  // Lima starts one virtiofsd per virtiofs mount before QEMU (qemu_driver.go Start).
  limaShareD = await startVirtiofsd({
    socket: join(lima.dir, "virtiofsd-0.sock"),
    log: join(lima.dir, "virtiofsd-0.log"),
    source: join(root, "share"),
    writable: true,
  });
  shim = (await hmOk(["qemu-wrap", "--install", "--dir", join(root, "bin"), "--json"])).json().path;
  // Lima's feature probes run the bare executable: each must answer exactly as QEMU does.
  for (const p of LIMA_PROBES) {
    const a = Bun.spawnSync([shim, ...p], { env: { ...process.env, ...env() } });
    const b = Bun.spawnSync(["qemu-system-x86_64", ...p]);
    expect(`${a.stdout}${a.stderr}`).toBe(`${b.stdout}${b.stderr}`);
    expect(a.exitCode).toBe(b.exitCode);
  }
  // Lima pipes QEMU's stdout and stderr into its own log.
  qemu = Bun.spawn([shim, ...lima.argv], { env: { ...process.env, ...env() }, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  ssh = await waitLimaBooted(qemu, lima);
}, 400_000);

afterAll(async () => {
  ssh?.close();
  await stopLimaQemu(qemu, lima);
  if (limaShareD) await stopVirtiofsd(limaShareD, 2000);
  await waitAgentGone("lw");
  rmSync(root, { recursive: true, force: true });
}, 60_000);

// Explicit timeouts: in a multi-file run, later files did not get the preload's default.
test("the wrapper execs QEMU in the process Lima started, with hotmount's QMP beside Lima's", () => {
  const pid = Number(readFileSync(join(lima.dir, "qemu.pid"), "utf8").trim());
  expect(pid).toBe(qemu!.pid);
  const argv = cmdlineOf(pid);
  expect(argv[0]).toBe("/usr/bin/qemu-system-x86_64");
  expect(argv).toContain("chardev:char-qmp");
  expect(argv).toContain(`unix:${join(process.env.HOTMOUNT_HOME!, "instances", "lw", "qmp.sock")},server=on,wait=off`);
  // Every one of Lima's arguments is there, in Lima's order, after hotmount's.
  expect(argv.slice(argv.length - lima.argv.length)).toEqual(lima.argv);
}, 180_000);

test("vm list shows the Lima instance as driver lima, with virtiofs and 9p available", async () => {
  const list = (await hmOk(["vm", "list", "--json"], { env: env() })).json() as any[];
  const row = list.find((i) => i.name === "lw");
  expect(row).toMatchObject({ driver: "lima", state: "running", accel: "tcg", slots: { total: 8, used: 0 } });
  expect(row.ssh).toMatchObject({ host: "127.0.0.1", port: lima.sshPort, user: "root" });
  expect(row.transports.filter((t: any) => t.available).map((t: any) => t.type)).toEqual(["virtiofs", "9p", "reverse-sshfs"]);
}, 180_000);

test("virtiofs hot-mount into the running Lima VM: both directions, then removed", async () => {
  const dir = join(root, "vfs");
  mkdirSync(dir);
  writeFileSync(join(dir, "from-host.txt"), "host\n");
  const t0 = performance.now();
  const m = (await hmOk(["mount", "add", "lw", dir, "/mnt/vfs", "--writable", "--json"], { env: env() })).json();
  console.log(`virtiofs add into the Lima VM (agent attach included): ${Math.round(performance.now() - t0)} ms`);
  expect(m).toMatchObject({ type: "virtiofs", state: "ready", writable: true });
  expect(await guest("cat /mnt/vfs/from-host.txt")).toBe("host\n");
  await guest("echo guest > /mnt/vfs/from-guest.txt && sync");
  expect(readFileSync(join(dir, "from-guest.txt"), "utf8")).toBe("guest\n");
  expect(await guest("grep ' /mnt/vfs ' /proc/mounts")).toContain("virtiofs");
  await hmOk(["mount", "remove", "lw", "/mnt/vfs"], { env: env() });
  expect(await guest("grep -c ' /mnt/vfs ' /proc/mounts || true")).toBe("0\n");
}, 180_000);

test("9p and reverse-sshfs hot-mount into it too", async () => {
  const dir = join(root, "other");
  mkdirSync(dir);
  writeFileSync(join(dir, "x.txt"), "x\n");
  await hmOk(["mount", "add", "lw", dir, "/mnt/p9", "--type", "9p"], { env: env() });
  await hmOk(["mount", "add", "lw", dir, "/mnt/sf", "--type", "sshfs"], { env: env() });
  expect(await guest("cat /mnt/p9/x.txt /mnt/sf/x.txt")).toBe("x\nx\n");
  const mounts = await guest("cat /proc/mounts");
  expect(mounts).toMatch(/ \/mnt\/p9 9p /);
  expect(mounts).toMatch(/ \/mnt\/sf fuse\.sshfs /);
  await hmOk(["mount", "remove", "lw", "/mnt/p9"], { env: env() });
  await hmOk(["mount", "remove", "lw", "/mnt/sf"], { env: env() });
}, 180_000);

test("Lima's own virtiofs share and its qmp.sock keep working beside hotmount's", async () => {
  await guest("mkdir -p /mnt/lima0 && mount -t virtiofs mount0 /mnt/lima0");
  expect(await guest("cat /mnt/lima0/lima-own.txt")).toBe("lima's own share\n");
  await guest("umount /mnt/lima0");
  // hotmount's agent holds its own monitor; Lima's answers at the same time.
  const c = await QmpClient.connect(join(lima.dir, "qmp.sock"), { timeoutMs: 3000 });
  expect(await c.execute("query-status")).toMatchObject({ status: "running" });
  await c.close();
}, 180_000);

test("vm stop detaches hotmount but leaves Lima's VM running", async () => {
  await hmOk(["mount", "add", "lw", join(root, "other"), "/mnt/again"], { env: env() });
  const r = await hm(["vm", "stop", "lw"], { env: env() });
  expect(r.code).toBe(8);
  expect(r.stderr).toContain("belongs to Lima");
  expect(r.stderr).toContain("limactl stop lw");
  expect(qemu!.exitCode).toBeNull();
  expect(await guest("grep -c ' /mnt/again ' /proc/mounts || true")).toBe("0\n");
}, 180_000);

test("when Lima stops the VM (QMP on its own qmp.sock), hotmount's agent notices and exits", async () => {
  // Attaching again after the detach above works too.
  await hmOk(["mount", "add", "lw", join(root, "other"), "/mnt/last", "--type", "9p"], { env: env() });
  const agentPid = readPidFile(instancePaths("lw").agentPid);
  expect(agentPid && isAlive(agentPid)).toBe(true);
  const c = await QmpClient.connect(join(lima.dir, "qmp.sock"), { timeoutMs: 3000 });
  await c.execute("quit").catch(() => {});
  await c.close().catch(() => {});
  expect(await waitUntil(() => qemu!.exitCode !== null, 15_000)).toBe(true);
  expect(await waitUntil(() => !isAlive(agentPid!), 10_000)).toBe(true);
  // Lima's host agent exits after QEMU and takes ha.pid with it.
  rmSync(join(lima.dir, "ha.pid"), { force: true });
  const row = ((await hmOk(["vm", "list", "--json"], { env: env() })).json() as any[]).find((i) => i.name === "lw");
  expect(row).toMatchObject({ driver: "lima", state: "stopped" });
}, 180_000);
