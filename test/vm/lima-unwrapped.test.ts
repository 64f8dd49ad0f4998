// Lima without the wrapper, on a real VM: a Lima-shaped instance whose QEMU runs Lima's
// argument list directly (mountType 9p, Lima's QEMU default). reverse-sshfs works through its
// ssh.config; virtiofs and 9p are refused with exactly what is missing and how to get it.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GuestSsh } from "../../src/guest-exec/ssh-client.ts";
import { instancePaths } from "../../src/core/paths.ts";
import { isAlive, readPidFile } from "../../src/util/process.ts";
import { hm, hmOk } from "../helpers/cli.ts";
import { type LimaQemu, stopLimaQemu, waitAgentGone, waitLimaBooted } from "../helpers/lima-vm.ts";
import { makeLimaInstance, type LimaShaped } from "../fixtures/lima/lima-home.ts";

let root: string;
let lima: LimaShaped;
let qemu: LimaQemu | null = null;
let ssh: GuestSsh;
const env = () => ({ LIMA_HOME: join(root, "lima") });

const EXPECTED_MESSAGE =
  'Lima instance "lu" was not started through hotmount\'s QEMU wrapper, so its QEMU lacks what hot-plugging virtiofs and 9p needs: ' +
  "spare PCIe root ports, reserved 9p backends, a QMP monitor for hotmount and shared guest RAM";

beforeAll(async () => {
  root = mkdtempSync(`${tmpdir()}/hmu-`);
  mkdirSync(join(root, "share"));
  lima = await makeLimaInstance({ home: join(root, "lima"), name: "lu", mountType: "9p", mounts: [{ location: join(root, "share"), writable: false }] });
  // Bun.spawn's default env is the one the process started with: pass HOTMOUNT_HOME on for the leak check.
  qemu = Bun.spawn(["qemu-system-x86_64", ...lima.argv], { env: { ...process.env }, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  ssh = await waitLimaBooted(qemu, lima);
}, 400_000);

afterAll(async () => {
  ssh?.close();
  await stopLimaQemu(qemu, lima);
  await waitAgentGone("lu");
  rmSync(root, { recursive: true, force: true });
}, 60_000);

test("vm list shows it as driver lima: reverse-sshfs available, virtiofs and 9p not, with the reason", async () => {
  const row = ((await hmOk(["vm", "list", "--json"], { env: env() })).json() as any[]).find((i) => i.name === "lu");
  expect(row).toMatchObject({ driver: "lima", state: "running", slots: { total: 0, used: 0 } });
  const t = Object.fromEntries(row.transports.map((x: any) => [x.type, x]));
  expect(t["reverse-sshfs"].available).toBe(true);
  expect(t.virtiofs).toMatchObject({ available: false, reason: EXPECTED_MESSAGE });
  expect(t["9p"].available).toBe(false);
}, 180_000);

test("mount add --type virtiofs explains exactly what is missing and how to get it", async () => {
  const dir = join(root, "v");
  mkdirSync(dir);
  const r = await hm(["mount", "add", "lu", dir, "/mnt/v", "--type", "virtiofs", "--json"], { env: env() });
  expect(r.code).toBe(8);
  const err = r.json().error;
  expect(err.code).toBe("UNSUPPORTED");
  expect(err.message).toBe(EXPECTED_MESSAGE);
  expect(err.hint).toBe(
    "Restart it through hotmount's QEMU wrapper: `limactl stop lu`, `hotmount qemu-wrap --install` (prints the line to use), " +
      "then `QEMU_SYSTEM_X86_64=<that path> limactl start lu`. Or mount now with --type reverse-sshfs (needs sshfs in the guest).",
  );
  // Without --json too, and for 9p; nothing is left behind in the guest.
  const plain = await hm(["mount", "add", "lu", dir, "/mnt/v", "--type", "9p"], { env: env() });
  expect(plain.code).toBe(8);
  expect(plain.stderr).toContain(`error: ${EXPECTED_MESSAGE}`);
  expect(plain.stderr).toContain("hint: Restart it through hotmount's QEMU wrapper");
  expect((await ssh.exec(["test", "-e", "/mnt/v"])).code).not.toBe(0);
  expect(((await hmOk(["mount", "list", "lu", "--json"], { env: env() })).json() as any[]).length).toBe(0);
}, 180_000);

test("reverse-sshfs works through the instance's ssh.config", async () => {
  const dir = join(root, "s");
  mkdirSync(dir);
  writeFileSync(join(dir, "in.txt"), "from host\n");
  const m = (await hmOk(["mount", "add", "lu", dir, "/mnt/s", "--type", "sshfs", "--writable", "--json"], { env: env() })).json();
  expect(m).toMatchObject({ type: "reverse-sshfs", state: "ready" });
  expect((await ssh.exec(["cat", "/mnt/s/in.txt"])).stdout).toBe("from host\n");
  await ssh.exec(["sh", "-c", "echo from guest > /mnt/s/out.txt"]);
  expect(readFileSync(join(dir, "out.txt"), "utf8")).toBe("from guest\n");
  await hmOk(["mount", "remove", "lu", "/mnt/s"], { env: env() });
  expect((await ssh.exec(["sh", "-c", "grep -c ' /mnt/s ' /proc/mounts || true"])).stdout).toBe("0\n");
}, 180_000);

test("vm start on a running Lima instance attaches an agent (and never boots anything)", async () => {
  await hm(["vm", "stop", "lu"], { env: env() }); // detach first
  expect(readPidFile(instancePaths("lu").agentPid)).toBeNull();
  const r = await hm(["vm", "start", "lu", "--json"], { env: env() });
  expect(r.code).toBe(0);
  expect(r.json()).toMatchObject({ name: "lu", driver: "lima", state: "running" });
  const agentPid = readPidFile(instancePaths("lu").agentPid);
  expect(agentPid && isAlive(agentPid)).toBe(true);
}, 180_000);

test("vm start on a stopped Lima instance says Lima starts it", async () => {
  const home = join(root, "lima");
  mkdirSync(join(home, "off"));
  writeFileSync(join(home, "off", "lima.yaml"), "vmType: qemu\n");
  const r = await hm(["vm", "start", "off"], { env: env() });
  expect(r.code).toBe(4);
  expect(r.stderr).toContain('Lima instance "off" is not running');
  expect(r.stderr).toContain("limactl start off");
}, 180_000);
