// The slow tier: the Debian bookworm image (debootstrap, systemd, cloud-init) booted
// with `vm start --image`, all three transports as the non-root user dev (bytes both ways,
// read-only, list/remove), and file ownership per transport, as root on the host and then as
// a non-root host user. Runs only when HOTMOUNT_SLOW=1: scripts/test (CI) and
// scripts/test-debian set it; the image is built first if it is not cached.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  chownSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { findVirtiofsd } from "../../drivers/qemu/host-tools.ts";
import { readInstanceConfig } from "../../src/core/instance-config.ts";
import { instancePaths } from "../../src/core/paths.ts";
import { ensureDebianImage, cachedDebianImage } from "../../src/guest-image/debian/image.ts";
import { READY_MARKER } from "../../src/guest-image/contract.ts";
import { hm, hmOk } from "../helpers/cli.ts";
import { guestUser, hmAs, hostEditsWakeWatchers, ownershipFixture, probeOwnership, sha, type OwnershipRow } from "../helpers/debian.ts";
import { waitUntil } from "../../src/util/process.ts";
import { ourProcesses } from "../helpers/leaks.ts";
import { kindsCases, waitFor } from "../helpers/watch-kinds.ts";
import { GuestSsh } from "../../src/guest-exec/ssh-client.ts";

// Two TCG boots of a systemd guest (about 2 minutes, plus the image build on a fresh machine):
// the full run includes it; a focused `scripts/test FILE` run leaves it out unless asked.
const RUN = process.env.HOTMOUNT_SLOW === "1";
const NAME = "deb";
const root = mkdtempSync(`${tmpdir()}/hmt-deb-`);
afterAll(() => rmSync(root, { recursive: true, force: true }));
const secs = (t0: number) => Math.round((performance.now() - t0) / 100) / 10;
const table: Record<string, OwnershipRow> = {};

const KINDS = [
  { flag: "virtiofs", fstype: "virtiofs" },
  { flag: "9p", fstype: "9p" },
  { flag: "sshfs", fstype: "fuse.sshfs" },
] as const;

const RUST = findVirtiofsd()?.flavour === "rust";

/**
 * The Rust virtiofsd with --translate-uid/gid (drivers/qemu/virtiofsd.ts): every guest id is the
 * host user virtiofsd runs as, and that host user's files are dev's in the guest.
 */
const rustRow = (host: string): OwnershipRow => ({
  hostFileInGuest: "1000:1000",
  devWritesHostFile: true,
  devCreatesInHostDir: true,
  devFileOnHost: host,
  devFileInGuest: "1000:1000",
  devRewritesOwnFile: true,
  rootFileOnHost: host,
});

/** Ownership measured on this machine (docs/ownership.md): host user root, guest user dev (1000). */
const AS_ROOT: Record<string, OwnershipRow> = {
  // The C virtiofsd and 9p (security_model=none, QEMU as root) pass guest ids straight through.
  virtiofs: RUST
    ? rustRow("0:0")
    : {
        hostFileInGuest: "0:0",
        devWritesHostFile: false,
        devCreatesInHostDir: false,
        devFileOnHost: "1000:1000",
        devFileInGuest: "1000:1000",
        devRewritesOwnFile: true,
        rootFileOnHost: "0:0",
      },
  "9p": {
    hostFileInGuest: "0:0",
    devWritesHostFile: false,
    devCreatesInHostDir: false,
    devFileOnHost: "1000:1000",
    devFileInGuest: "1000:1000",
    devRewritesOwnFile: true,
    rootFileOnHost: "0:0",
  },
  // sftp-server creates as the host user; uid=/gid= show every file as dev's.
  sshfs: {
    hostFileInGuest: "1000:1000",
    devWritesHostFile: true,
    devCreatesInHostDir: true,
    devFileOnHost: "0:0",
    devFileInGuest: "1000:1000",
    devRewritesOwnFile: true,
    rootFileOnHost: "0:0",
  },
};

describe.skipIf(!RUN)("Debian guest, as dev, hotmount run by root", () => {
  const g = guestUser(() => readInstanceConfig(NAME).ssh);
  beforeAll(async () => {
    const img = await ensureDebianImage({ onProgress: (l) => console.error(`build-guest: ${l}`) });
    console.error(`Debian image ${img.built ? `built in ${img.seconds} s` : "cached"}: ${img.disk}`);
  }, 1_200_000);
  beforeAll(async () => {
    const t0 = performance.now();
    await hmOk(["vm", "start", NAME, "--image", "debian", "--memory", "512M"], { timeoutMs: 300_000 });
    console.error(`vm start --image debian → SSH as dev: ${secs(t0)} s`);
  }, 320_000);
  afterAll(async () => {
    g.close();
    await hm(["vm", "stop", NAME]);
  }, 120_000);

  test("the image: no machine id, no SSH host keys, the guest's kernel; booted as dev with sudo", async () => {
    const cfg = readInstanceConfig(NAME);
    expect(cfg).toMatchObject({ image: "debian", ssh: { user: "dev" }, append: "root=/dev/vda rw console=ttyS0" });
    expect(cfg.disk!.base).toBe(cachedDebianImage()!.disk);
    expect(cfg.disk!.path.startsWith(`${instancePaths(NAME).dir}/`)).toBe(true);
    // The base image itself, read without booting it.
    const raw = join(root, "base.raw");
    expect(Bun.spawnSync(["qemu-img", "convert", "-O", "raw", cfg.disk!.base, raw]).exitCode).toBe(0);
    const debugfs = (req: string) => Bun.spawnSync(["debugfs", "-R", req, raw], { stderr: "pipe" }).stdout.toString();
    expect(debugfs("cat /etc/machine-id")).toBe("");
    expect(debugfs("ls -l /etc/ssh")).not.toContain("ssh_host_");
    expect(debugfs("ls -l /etc/ssh")).toContain("sshd_config");
    rmSync(raw);

    expect((await g.devOk(["id", "-un"])).trim()).toBe("dev");
    expect((await g.devOk(["id", "-u"])).trim()).toBe("1000");
    expect((await g.devOk(["id", "-nG"])).split(/\s+/)).toContain("sudo");
    expect((await g.root(["id", "-u"])).stdout.trim()).toBe("0");
    expect((await g.devOk(["cat", "/proc/1/comm"])).trim()).toBe("systemd");
    expect((await g.devOk(["cat", "/etc/machine-id"])).trim()).toMatch(/^[0-9a-f]{32}$/);
    expect((await g.devOk(["sh", "-c", "ls /etc/ssh/ssh_host_*_key"])).trim().split("\n")).toEqual(["/etc/ssh/ssh_host_ed25519_key"]);
    // Ready means: sshd listens and cloud-init's init stage made the user; its later stages may still run.
    expect((await g.devOk(["cloud-init", "status"])).trim()).toMatch(/^status: (running|done)$/);
    // The image's own kernel, and cloud-init's final_message is the boot-complete marker.
    expect((await g.devOk(["uname", "-r"])).trim()).toBe(JSON.parse(readFileSync(cachedDebianImage()!.manifest, "utf8")).kernel);
    expect(readFileSync(instancePaths(NAME).serialLog, "utf8")).toContain(READY_MARKER);
    // The agent's guest commands run as root: qemu-guest-agent answers (or sudo -n does).
    expect((await g.devOk(["systemctl", "is-active", "qemu-guest-agent"])).trim()).toBe("active");
  });

  test("vm start on the running instance, even with another image, leaves its disk alone", async () => {
    const overlay = readInstanceConfig(NAME).disk!.path;
    const before = statSync(overlay).ino;
    const alt = join(root, "other.qcow2");
    expect(Bun.spawnSync(["qemu-img", "create", "-q", "-f", "qcow2", alt, "64M"]).exitCode).toBe(0);
    writeFileSync(join(root, "vmlinuz"), "not a kernel");
    const r = await hm(["vm", "start", NAME, "--image", alt, "--json"]);
    expect(r.json().error.code).toBe("INSTANCE_ALREADY_RUNNING");
    expect(statSync(overlay).ino).toBe(before);
    expect(readInstanceConfig(NAME).image).toBe("debian");
    expect((await g.devOk(["id", "-un"])).trim()).toBe("dev");
  });

  describe.each(KINDS)("$flag", (k) => {
    test("bytes both ways as dev with equal sha256, ownership, list, remove", async () => {
      const host = join(root, `rw-${k.flag}`);
      ownershipFixture(host, 0, 0);
      const big = randomBytes(4 << 20);
      writeFileSync(join(host, "open", "big.bin"), big);
      const mp = `/mnt/${k.flag}`;
      const m = (await hmOk(["mount", "add", NAME, host, mp, "--type", k.flag, "--writable", "--json"])).json();
      expect(m).toMatchObject({ writable: true, state: "ready", mountPoint: mp });
      expect((await g.devOk(["sh", "-c", 'grep " $1 " /proc/mounts', "sh", mp])).split(" ")[2]).toBe(k.fstype);

      expect((await g.devOk(["sha256sum", `${mp}/open/big.bin`])).split(" ")[0]).toBe(sha(big));
      const out = await g.devOk(["sh", "-c", 'head -c 3145728 /dev/urandom > "$1" && sha256sum "$1"', "sh", `${mp}/open/from-guest.bin`]);
      expect(sha(readFileSync(join(host, "open", "from-guest.bin")))).toBe(out.split(" ")[0]!);

      table[k.flag] = await probeOwnership(g, host, mp);
      expect(table[k.flag]).toEqual(AS_ROOT[k.flag]!);

      const list = (await hmOk(["mount", "list", NAME, "--json"])).json();
      expect(list.map((x: any) => [x.mountPoint, x.writable, x.state])).toEqual([[mp, true, "ready"]]);
      await hmOk(["mount", "remove", NAME, mp]);
      expect((await hmOk(["mount", "list", NAME, "--json"])).json()).toEqual([]);
      expect(await g.devOk(["cat", "/proc/mounts"])).not.toContain(` ${mp} `);
      expect(readdirSync(join(host, "open")).sort()).toEqual(["big.bin", "dev-file", "from-guest.bin", "root-file"]);
    });

    test("read-only: dev and root are refused, the host folder is unchanged", async () => {
      const host = join(root, `ro-${k.flag}`);
      mkdirSync(host, { mode: 0o777 });
      writeFileSync(join(host, "keep"), "keep\n");
      const mp = `/mnt/ro-${k.flag}`;
      await hmOk(["mount", "add", NAME, host, mp, "--type", k.flag]);
      expect(await g.devOk(["cat", `${mp}/keep`])).toBe("keep\n");
      for (const who of [g.dev, g.root]) {
        const r = await who(["sh", "-c", 'echo x > "$1/new" || exit 3; echo x >> "$1/keep" || exit 4', "sh", mp]);
        expect(r.code).toBe(3);
        expect(r.stderr).toMatch(/Read-only file system|Permission denied/);
      }
      expect(readdirSync(host)).toEqual(["keep"]);
      expect(readFileSync(join(host, "keep"), "utf8")).toBe("keep\n");
      await hmOk(["mount", "remove", NAME, mp]);
    });
  });

  // Host edits wake a user's watcher in the guest (docs/watch.md): inotifywait as dev, on a
  // writable and a read-only mount; the guest's own write is not replayed back to it.
  test.each(KINDS)("$flag: inotifywait as dev wakes for host edits, read-only too, and not for its own writes", async (k) => {
    const host = join(root, `watch-${k.flag}`);
    const ro = join(root, `watch-ro-${k.flag}`);
    for (const d of [host, ro]) {
      mkdirSync(d, { mode: 0o777 });
      chmodSync(d, 0o777);
      writeFileSync(join(d, "a"), "1\n", { mode: 0o666 });
    }
    const mp = `/mnt/w-${k.flag}`;
    const mpRo = `/mnt/w-ro-${k.flag}`;
    await hmOk(["mount", "add", NAME, host, mp, "--type", k.flag, "--writable"]);
    await hmOk(["mount", "add", NAME, ro, mpRo, "--type", k.flag]);
    await hostEditsWakeWatchers(g, { host, mp, ro, mpRo });
    await hmOk(["mount", "remove", NAME, mp]);
    await hmOk(["mount", "remove", NAME, mpRo]);
    // The last watched mount gone: the guest helper ends too ('[w]' keeps pgrep off its own shell).
    expect(await waitUntil(async () => (await g.dev(["pgrep", "-f", "[w]atch-helper"])).code === 1, 20_000)).toBe(true);
  });

  // --watch=kinds on Debian's own kernel (docs/watch.md, "Event kinds"): the demo guest's cases,
  // inotifywait run as root through dev's sudo.
  let rootSsh: GuestSsh | null = null;
  beforeAll(async () => {
    rootSsh = await GuestSsh.connectWithRetry(readInstanceConfig(NAME).ssh, 60_000);
  }, 120_000);
  afterAll(() => rootSsh?.close());
  kindsCases({ name: NAME, root, ssh: () => rootSsh!, waitFor, types: KINDS.map((k) => k.flag) });

  test("ownership table (host user root); cloud-init finished without errors", async () => {
    console.error(`ownership, host user root:\n${JSON.stringify(table, null, 1)}`);
    expect(Object.keys(table).sort()).toEqual(["9p", "sshfs", "virtiofs"]);
    expect((await g.devOk(["cloud-init", "status", "--wait"], 300_000)).trim().split("\n").at(-1)).toBe("status: done");
  });
});

// The same image, hotmount run by a non-root host user (nobody): QEMU, the agent, sftp-server
// and the Rust virtiofsd run as that user. The C virtiofsd only runs as root, so there virtiofs
// is refused.
const NOBODY = 65534;
const AS_NOBODY: Record<string, OwnershipRow> = {
  ...(RUST ? { virtiofs: rustRow("65534:65534") } : {}),
  // QEMU's chown to the guest's uid fails as non-root and security_model=none ignores that: the
  // file is the host user's, and dev cannot open it again for writing.
  "9p": {
    hostFileInGuest: "65534:65534",
    devWritesHostFile: false,
    devCreatesInHostDir: false,
    devFileOnHost: "65534:65534",
    devFileInGuest: "65534:65534",
    devRewritesOwnFile: false,
    rootFileOnHost: "65534:65534",
  },
  sshfs: {
    hostFileInGuest: "1000:1000",
    devWritesHostFile: true,
    devCreatesInHostDir: true,
    devFileOnHost: "65534:65534",
    devFileInGuest: "1000:1000",
    devRewritesOwnFile: true,
    rootFileOnHost: "65534:65534",
  },
};

describe.skipIf(!RUN)("Debian guest, as dev, hotmount run by a non-root host user", () => {
  const NAME2 = "debn";
  const home = `${process.env.HOTMOUNT_TEST_HOME}-nobody`;
  const env = { HOTMOUNT_HOME: join(home, "hm"), HOTMOUNT_CACHE: join(home, "cache"), HOME: home, XDG_CACHE_HOME: join(home, "cache") };
  // A host stack from scripts/host-stack lives in root's cache: nobody gets hard links of it.
  const stack = process.env.HOTMOUNT_VIRTIOFSD && dirname(dirname(process.env.HOTMOUNT_VIRTIOFSD));
  const stackEnv: Record<string, string> = {};
  const as = (args: string[]) => hmAs(NOBODY, NOBODY, args, { ...env, ...stackEnv });
  const asOk = async (args: string[]) => {
    const r = await as(args);
    if (r.code !== 0) throw new Error(`hotmount (as nobody) ${args.join(" ")} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
    return r;
  };
  const g = guestUser(() => JSON.parse(readFileSync(join(env.HOTMOUNT_HOME, "instances", NAME2, "instance.json"), "utf8")).ssh);
  const nobodyTable: Record<string, OwnershipRow> = {};

  beforeAll(async () => {
    for (const d of [home, env.HOTMOUNT_HOME, env.HOTMOUNT_CACHE, join(home, "img"), join(home, "shares")]) {
      mkdirSync(d, { recursive: true, mode: 0o700 });
      chownSync(d, NOBODY, NOBODY);
    }
    if (stack && existsSync(join(stack, "root"))) {
      if (!existsSync(join(home, "stack"))) expect(Bun.spawnSync(["cp", "-al", stack, join(home, "stack")]).exitCode).toBe(0);
      for (const [k, v] of [
        ["HOTMOUNT_VIRTIOFSD", process.env.HOTMOUNT_VIRTIOFSD],
        ["HOTMOUNT_QEMU", process.env.HOTMOUNT_QEMU],
      ] as const) {
        if (v?.startsWith(`${stack}/`)) stackEnv[k] = join(home, "stack", v.slice(stack.length + 1));
      }
    }
    // The cached image lives under root's home; the non-root user boots hard links of it (--image PATH).
    const img = cachedDebianImage()!;
    for (const [from, to] of [
      [img.disk, "disk.qcow2"],
      [img.kernel, "vmlinuz"],
      [img.initrd, "initrd.img"],
    ] as const) {
      if (!existsSync(join(home, "img", to))) linkSync(from, join(home, "img", to));
    }
    const t0 = performance.now();
    await asOk(["vm", "start", NAME2, "--image", join(home, "img", "disk.qcow2"), "--memory", "512M", "--accel", "tcg"]);
    console.error(`vm start --image PATH as a non-root host user → SSH as dev: ${secs(t0)} s`);
  }, 320_000);
  afterAll(async () => {
    g.close();
    await as(["vm", "stop", NAME2]);
    const left = ourProcesses(env.HOTMOUNT_HOME);
    for (const p of left)
      try {
        process.kill(p.pid, "SIGKILL");
      } catch {}
    rmSync(home, { recursive: true, force: true });
    expect(left).toEqual([]);
  }, 120_000);

  test.skipIf(RUST)("QEMU and the agent run as the non-root user; virtiofs is refused with a hint", async () => {
    const pid = Number(readFileSync(join(env.HOTMOUNT_HOME, "instances", NAME2, "qemu.pid"), "utf8"));
    expect(readFileSync(`/proc/${pid}/status`, "utf8")).toMatch(new RegExp(`^Uid:\\s+${NOBODY}\\s`, "m"));
    const host = join(home, "shares", "vfs");
    mkdirSync(host);
    chownSync(host, NOBODY, NOBODY);
    const r = await as(["mount", "add", NAME2, host, "/mnt/vfs", "--type", "virtiofs", "--json"]);
    expect(r.code).not.toBe(0);
    expect(r.json().error).toMatchObject({ code: "PERMISSION_DENIED" });
    expect(r.json().error.hint).toMatch(/9p|reverse-sshfs/);
  });

  test.skipIf(!RUST)("QEMU and the agent run as the non-root user; the Rust virtiofsd too, sandboxed in a user namespace", async () => {
    const pid = Number(readFileSync(join(env.HOTMOUNT_HOME, "instances", NAME2, "qemu.pid"), "utf8"));
    expect(readFileSync(`/proc/${pid}/status`, "utf8")).toMatch(new RegExp(`^Uid:\\s+${NOBODY}\\s`, "m"));
    const host = join(home, "shares", "vfs-sandbox");
    mkdirSync(host);
    chownSync(host, NOBODY, NOBODY);
    await asOk(["mount", "add", NAME2, host, "/mnt/vfs-sandbox", "--type", "virtiofs"]);
    const daemons = ourProcesses(env.HOTMOUNT_HOME).filter((p) => p.argv.includes("virtiofsd"));
    expect(daemons.length).toBeGreaterThan(0);
    expect(daemons.every((p) => p.argv.includes("--sandbox namespace"))).toBe(true);
    // The one serving the share: its own user, mount and pid namespaces (it is pid 1 in the
    // last), only nobody mapped, and its root is the share.
    const inner = daemons.filter((p) => /^NSpid:\s+\d+\s+1$/m.test(readFileSync(`/proc/${p.pid}/status`, "utf8")));
    expect(inner.length).toBe(1);
    const pidDir = `/proc/${inner[0]!.pid}`;
    for (const ns of ["user", "mnt", "pid"]) expect(readlinkSync(`${pidDir}/ns/${ns}`)).not.toBe(readlinkSync(`/proc/self/ns/${ns}`));
    expect(readFileSync(`${pidDir}/uid_map`, "utf8").trim().split(/\s+/)).toEqual(["65534", "65534", "1"]);
    expect(readFileSync(`${pidDir}/status`, "utf8")).toMatch(new RegExp(`^Uid:\\s+${NOBODY}\\s`, "m"));
    writeFileSync(join(host, "marker"), "m");
    expect(readdirSync(`${pidDir}/root`)).toEqual(["marker"]);
    const log = readFileSync(join(env.HOTMOUNT_HOME, "instances", NAME2, "agent.log"), "utf8");
    expect(log).not.toContain("unsandboxed");
    await asOk(["mount", "remove", NAME2, "/mnt/vfs-sandbox"]);
  });

  test.each(RUST ? ["virtiofs", "9p", "sshfs"] : ["9p", "sshfs"])("%s: bytes both ways and ownership", async (flag) => {
    const host = join(home, "shares", flag);
    ownershipFixture(host, NOBODY, NOBODY);
    const big = randomBytes(1 << 20);
    writeFileSync(join(host, "open", "big.bin"), big);
    chownSync(join(host, "open", "big.bin"), NOBODY, NOBODY);
    const mp = `/mnt/${flag}`;
    await asOk(["mount", "add", NAME2, host, mp, "--type", flag, "--writable"]);
    if (flag === "sshfs") {
      // Without root, sftp-server is jailed inside a user namespace of its own.
      const servers = ourProcesses(env.HOTMOUNT_HOME).filter((p) => p.argv.includes("sftp-server"));
      expect(servers.length).toBeGreaterThan(0);
      for (const p of servers) expect(readlinkSync(`/proc/${p.pid}/ns/user`)).not.toBe(readlinkSync("/proc/self/ns/user"));
      expect(readFileSync(join(env.HOTMOUNT_HOME, "instances", NAME2, "agent.log"), "utf8")).not.toContain("not confined");
    }
    expect((await g.devOk(["sha256sum", `${mp}/open/big.bin`])).split(" ")[0]).toBe(sha(big));
    const out = await g.devOk(["sh", "-c", 'head -c 1048576 /dev/urandom > "$1" && sha256sum "$1"', "sh", `${mp}/open/from-guest.bin`]);
    expect(sha(readFileSync(join(host, "open", "from-guest.bin")))).toBe(out.split(" ")[0]!);
    nobodyTable[flag] = await probeOwnership(g, host, mp);
    expect(nobodyTable[flag]).toEqual(AS_NOBODY[flag]!);
    await asOk(["mount", "remove", NAME2, mp]);
  });

  test("ownership table (host user nobody)", () => {
    console.error(`ownership, host user nobody:\n${JSON.stringify(nobodyTable, null, 1)}`);
    expect(Object.keys(nobodyTable).sort()).toEqual(RUST ? ["9p", "sshfs", "virtiofs"] : ["9p", "sshfs"]);
  });
});
