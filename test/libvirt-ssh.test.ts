// The libvirt driver on a domain without the guest-agent channel: libvirt cannot run guest
// commands there, so the agent runs them over SSH (the domain's port forward, hotmount's key), and
// virtiofs still goes through libvirt. A domain of its own, defined by hand with `virsh define`.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseDomain } from "../drivers/libvirt/domain-xml.ts";
import { instancePaths, sshKeyPath } from "../src/core/paths.ts";
import { GuestSsh } from "../src/guest-exec/ssh-client.ts";
import { isAlive, readPidFile, waitUntil } from "../src/util/process.ts";
import { hmOk } from "./helpers/cli.ts";
import { imagesDirReady, libvirtDown, libvirtUp, startDemoDomain, type TestDomain } from "./helpers/libvirt.ts";

const up = libvirtUp();
if (up.problem) console.warn(`test/libvirt-ssh.test.ts skipped: ${up.problem}`);
const d = up.problem ? describe.skip : describe;

const NAME = "hmtest-noqga";
const root = mkdtempSync("/tmp/hmt-lvssh-");
const share = join(root, "share");
mkdirSync(share);
writeFileSync(join(share, "from-host.txt"), "bytes from the host\n");

let dom: TestDomain;
let ssh: GuestSsh;

beforeAll(async () => {
  if (up.problem) return;
  imagesDirReady();
  dom = await startDemoDomain({ name: NAME, sharedMemory: true, sparePorts: 2, agent: false });
  ssh = await GuestSsh.connectWithRetry({ host: "127.0.0.1", port: dom.sshPort, user: "root", identityFile: sshKeyPath() }, 420_000);
}, 600_000);

afterAll(async () => {
  if (up.problem) return;
  ssh?.close();
  const pid = readPidFile(instancePaths(NAME).agentPid);
  if (pid && isAlive(pid)) process.kill(pid, "SIGTERM");
  if (pid) await waitUntil(() => !isAlive(pid), 10_000);
  await dom?.destroy();
  libvirtDown();
  rmSync(root, { recursive: true, force: true });
}, 120_000);

d("a libvirt domain without the guest-agent channel", () => {
  test("guest commands go over SSH, virtiofs add/remove works", async () => {
    const add = (await hmOk(["mount", "add", NAME, share, "/mnt/viassh", "--writable", "--json"])).json();
    expect(add).toMatchObject({ type: "virtiofs", state: "ready" });
    expect(await ssh.run(["cat", "/mnt/viassh/from-host.txt"])).toBe("bytes from the host\n");
    await ssh.run(["sh", "-c", "echo via ssh > /mnt/viassh/from-noqga.txt"]);
    expect(readFileSync(join(share, "from-noqga.txt"), "utf8")).toBe("via ssh\n");
    expect(readFileSync(instancePaths(NAME).agentLog, "utf8")).toContain("guest commands via ssh");
    await hmOk(["mount", "remove", NAME, "/mnt/viassh"]);
    expect(parseDomain(await dom.liveXml()).filesystems).toEqual([]);
    expect((await ssh.run(["cat", "/proc/mounts"])).split("\n").some((l) => l.split(" ")[1] === "/mnt/viassh")).toBe(false);
  }, 600_000);
});
