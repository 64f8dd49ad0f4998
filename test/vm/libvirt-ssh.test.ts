// The libvirt driver on a domain without the guest-agent channel: libvirt cannot run guest
// commands there, so the agent runs them over SSH (the domain's port forward, hotmount's key), and
// virtiofs still goes through libvirt. A domain of its own, defined by hand with `virsh define`.
// And the common case the other way round: a second domain that qemu-guest-agent serves but whose
// SSH login hotmount does not know (its key is not authorized in the guest): `mount add` must not
// wait on SSH (the watch is the only thing that wants it), `mount list` says what to run, and once
// `hotmount libvirt ssh` names a login that works, a new mount is watched.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ClientChannel } from "ssh2";
import { parseDomain } from "../../drivers/libvirt/domain-xml.ts";
import { instancePaths, sshKeyPath } from "../../src/core/paths.ts";
import { GuestSsh } from "../../src/guest-exec/ssh-client.ts";
import { isAlive, readPidFile, waitUntil } from "../../src/util/process.ts";
import { hmOk, hotmountArgv } from "../helpers/cli.ts";
import { imagesDirReady, libvirtDown, libvirtUp, scratchShare, startDemoDomain, type TestDomain } from "../helpers/libvirt.ts";

const up = libvirtUp();
if (up.problem) console.warn(`test/vm/libvirt-ssh.test.ts skipped: ${up.problem}`);
const d = up.problem ? describe.skip : describe;

const NAME = "hmtest-noqga";
const NOLOGIN = "hmtest-nologin";
const { root, share } = scratchShare("hmt-lvssh-");
// A key the guest has never heard of: hotmount's SSH login to NOLOGIN fails at authentication.
const strangerKey = join(root, "stranger");

let dom: TestDomain;
let nologin: TestDomain;
let ssh: GuestSsh;

beforeAll(async () => {
  if (up.problem) return;
  imagesDirReady();
  const r = Bun.spawnSync(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "stranger", "-f", strangerKey]);
  if (r.exitCode !== 0) throw new Error(`ssh-keygen failed: ${r.stderr.toString()}`);
  // Both boot at once (TCG: each takes minutes); the second has the guest-agent channel.
  [dom, nologin] = await Promise.all([
    startDemoDomain({ name: NAME, sharedMemory: true, sparePorts: 2, agent: false }),
    startDemoDomain({ name: NOLOGIN, sharedMemory: true, sparePorts: 4 }),
  ]);
  ssh = await GuestSsh.connectWithRetry({ host: "127.0.0.1", port: dom.sshPort, user: "root", identityFile: sshKeyPath() }, 420_000);
}, 900_000);

afterAll(async () => {
  if (up.problem) return;
  ssh?.close();
  for (const n of [NAME, NOLOGIN]) {
    const pid = readPidFile(instancePaths(n).agentPid);
    if (pid && isAlive(pid)) process.kill(pid, "SIGTERM");
    if (pid) await waitUntil(() => !isAlive(pid), 10_000);
  }
  await dom?.destroy();
  await nologin?.destroy();
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

/** `hotmount ARGS` with stderr into the same pipe as stdout, as a terminal shows them. */
async function merged(args: string[]): Promise<string> {
  const p = Bun.spawn(["sh", "-c", '"$@" 2>&1', "sh", ...hotmountArgv(), ...args], { env: { ...process.env }, stdout: "pipe", stdin: "ignore" });
  const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
  if (code !== 0) throw new Error(`hotmount ${args.join(" ")} exited ${code}\n${out}`);
  return out;
}

async function timedAdd(dir: string, mp: string): Promise<number> {
  const t0 = performance.now();
  const m = (await hmOk(["mount", "add", NOLOGIN, dir, mp, "--writable", "--json"])).json();
  const ms = Math.round(performance.now() - t0);
  expect(m).toMatchObject({ type: "virtiofs", state: "ready", mountPoint: mp });
  return ms;
}

const listed = async () => (await hmOk(["mount", "list", NOLOGIN, "--json"])).json() as Array<{ mountPoint: string; watchWarning?: string }>;

d("a libvirt domain served by qemu-guest-agent whose SSH login hotmount does not know", () => {
  const dirs = ["nl1", "nl2", "nl3"].map((n) => {
    mkdirSync(join(root, n));
    writeFileSync(join(root, n, "f.txt"), `${n}\n`);
    return join(root, n);
  });

  test("mount add does not wait for SSH, and mount list says what to run, on a line of its own", async () => {
    await hmOk(["libvirt", "ssh", NOLOGIN, "-i", strangerKey]);
    const first = await timedAdd(dirs[0]!, "/mnt/nl1");
    const second = await timedAdd(dirs[1]!, "/mnt/nl2");
    console.log(`libvirt, guest agent, no SSH login: mount add ${first} ms (first, agent start included), ${second} ms (second)`);
    // Speed is the benchmarks' business (the goal here is under 3 s); this only catches a wait on SSH.
    expect(first).toBeLessThan(10_000);
    expect(second).toBeLessThan(10_000);
    expect(await nologin.run(["cat", "/mnt/nl2/f.txt"])).toBe("nl2\n");
    expect(readFileSync(instancePaths(NOLOGIN).agentLog, "utf8")).toContain("guest commands via qga");
    // The watch set-up gives up in the background; then both mounts carry a warning naming the fix.
    expect(await waitUntil(async () => (await listed()).every((m) => m.watchWarning), 60_000, 500)).toBe(true);
    for (const m of await listed()) expect(m.watchWarning).toContain(`hotmount libvirt ssh ${NOLOGIN} -u USER -i KEY`);
    const out = await merged(["mount", "list", NOLOGIN]);
    console.log(out);
    const lines = out.split("\n");
    // Each table row ends with its guest path; each warning starts a line of its own.
    for (const mp of ["/mnt/nl1", "/mnt/nl2"]) expect(lines.some((l) => /^hm\S+\s+hmtest-nologin\s+virtiofs\s/.test(l) && l.endsWith(` ${mp}`))).toBe(true);
    // Both mounts meet the same failure: one warning line names them both, and the fix.
    const warnings = lines.filter((l) => l.includes("host changes are not replayed"));
    expect(warnings.length).toBeGreaterThanOrEqual(1);
    for (const w of warnings)
      expect(w).toMatch(/^warning: hm\S+ \(\/mnt\/nl\d\)(, hm\S+ \(\/mnt\/nl\d\))*: .*hotmount libvirt ssh hmtest-nologin -u USER -i KEY/);
    for (const mp of ["/mnt/nl1", "/mnt/nl2"]) expect(warnings.some((w) => w.includes(`(${mp})`))).toBe(true);
    expect(lines.filter((l) => /\/mnt\/nl\d\S*warning/.test(l))).toEqual([]);
  }, 600_000);

  test("with a working login set by `hotmount libvirt ssh`, a new mount is watched", async () => {
    await hmOk(["libvirt", "ssh", NOLOGIN, "-u", "root", "-i", sshKeyPath()]);
    const ms = await timedAdd(dirs[2]!, "/mnt/nl3");
    console.log(`libvirt, guest agent, login set: mount add ${ms} ms`);
    expect(await waitUntil(async () => readFileSync(instancePaths(NOLOGIN).agentLog, "utf8").includes("guest watch helper started"), 60_000, 500)).toBe(true);
    // The new mount is watched, and the two that found no login are taken on too.
    expect(await waitUntil(async () => (await listed()).every((m) => !m.watchWarning), 30_000, 500)).toBe(true);
    // A host edit reaches a guest watcher (the helper's own --watch mode, over SSH with the same login).
    const gs = await GuestSsh.connect({ host: "127.0.0.1", port: nologin.sshPort, user: "root", identityFile: sshKeyPath() });
    try {
      const helper = (await gs.run(["sh", "-c", "ls /run/hotmount/watch-helper-* | head -1"])).trim();
      const ch: ClientChannel = await gs.channel([helper, "--watch", "/mnt/nl3"]);
      let seen = "";
      ch.on("data", (b: Buffer) => (seen += b.toString()));
      ch.stderr.resume();
      expect(await waitUntil(() => seen.includes("READY"), 30_000)).toBe(true);
      writeFileSync(join(dirs[2]!, "new.txt"), "from the host\n");
      expect(await waitUntil(() => seen.includes("/mnt/nl3/new.txt"), 30_000)).toBe(true);
      const closed = new Promise<void>((r) => ch.on("close", () => r()));
      ch.end();
      await closed;
    } finally {
      gs.close();
    }
    for (const mp of ["/mnt/nl1", "/mnt/nl2", "/mnt/nl3"]) await hmOk(["mount", "remove", NOLOGIN, mp]);
    expect(parseDomain(await nologin.liveXml()).filesystems).toEqual([]);
  }, 600_000);
});
