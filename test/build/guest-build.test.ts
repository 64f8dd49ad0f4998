// The demo guest: build (or reuse) it, look inside the initramfs, then boot it under TCG and use it
// the way the QEMU driver does: wait for the console marker, SSH in, check the FUSE/9p/virtiofs
// pieces, power off. The build lands in the shared cache (HOTMOUNT_CACHE or the default), so the
// rest of the suite reuses it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { listInitramfs } from "../../src/guest-image/cpio.ts";
import { demoGuestAppend, GUEST_MODULES, GUEST_USER, probeAppend, READY_MARKER } from "../../src/guest-image/contract.ts";
import { ensureDemoGuest, type DemoGuest } from "../../src/guest-image/demo-guest.ts";

const BOOT_DEADLINE_MS = 180_000; // TCG on shared cores: usually 6–9 s, but be generous
const tmp = mkdtempSync(join(tmpdir(), "hm-guest-test-"));
const vms = new Set<Subprocess>();
let guest: DemoGuest;

// Whatever happens (failed assertion, timeout, Ctrl-C), no QEMU outlives the test process.
function killAll() {
  for (const p of vms) if (p.exitCode === null) p.kill("SIGKILL");
}
process.on("exit", () => {
  killAll();
  rmSync(tmp, { recursive: true, force: true });
});
for (const [sig, code] of [
  ["SIGINT", 130],
  ["SIGTERM", 143],
] as const)
  process.once(sig, () => process.exit(code));

afterAll(async () => {
  killAll();
  await Promise.all([...vms].map((p) => p.exited));
  rmSync(tmp, { recursive: true, force: true });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => resolve(typeof a === "object" && a ? a.port : 0));
    });
  });
}

function startVm(append: string, log: string, port?: number): Subprocess {
  const argv = [
    "qemu-system-x86_64",
    "-accel",
    "tcg",
    "-cpu",
    "max",
    "-m",
    "512M",
    "-smp",
    "2",
    "-nodefaults",
    "-display",
    "none",
    "-no-reboot",
    "-kernel",
    guest.kernel,
    "-initrd",
    guest.initrd,
    "-append",
    append,
    "-serial",
    `file:${log}`,
  ];
  if (port) argv.push("-netdev", `user,id=n0,hostfwd=tcp:127.0.0.1:${port}-:22`, "-device", "virtio-net-pci,netdev=n0");
  const p = Bun.spawn(argv, { stdout: "ignore", stderr: "pipe" });
  vms.add(p);
  return p;
}

const consoleLines = (log: string) => (existsSync(log) ? readFileSync(log, "utf8").split(/\r?\n/) : []);

/** Resolves with the seconds until READY_MARKER is a line of its own on the console. */
async function waitForMarker(vm: Subprocess, log: string): Promise<number> {
  const t0 = performance.now();
  while (performance.now() - t0 < BOOT_DEADLINE_MS) {
    if (consoleLines(log).includes(READY_MARKER)) return (performance.now() - t0) / 1000;
    if (vm.exitCode !== null) break;
    await Bun.sleep(50);
  }
  const err = vm.exitCode !== null ? await new Response(vm.stderr as ReadableStream).text() : "";
  throw new Error(`no ${READY_MARKER} (qemu exit ${vm.exitCode}) ${err}\n${consoleLines(log).slice(-15).join("\n")}`);
}

const sshArgv = (port: number, key: string, command: string) => [
  "ssh",
  "-i",
  key,
  "-p",
  String(port),
  "-o",
  "StrictHostKeyChecking=no",
  "-o",
  "UserKnownHostsFile=/dev/null",
  "-o",
  "LogLevel=ERROR",
  "-o",
  "BatchMode=yes",
  "-o",
  "ConnectTimeout=30",
  `${GUEST_USER}@127.0.0.1`,
  command,
];

async function ssh(port: number, key: string, command: string, timeoutMs = 60_000) {
  const p = Bun.spawn(sshArgv(port, key, command), { stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  clearTimeout(timer);
  return { stdout, stderr, code };
}

const SFTP_SERVER = "/usr/lib/openssh/sftp-server"; // Debian's path; the host deps install it

/**
 * sshfs in the guest really mounts: passive sshfs speaks SFTP over its SSH channel to a host
 * sftp-server (what the reverse-sshfs transport does), then the guest reads and writes the share.
 */
async function reverseSshfsRoundTrip(port: number, key: string) {
  if (!existsSync(SFTP_SERVER)) return console.error(`skipping the sshfs round trip: no ${SFTP_SERVER}`);
  const share = join(tmp, "share");
  mkdirSync(share);
  writeFileSync(join(share, "hello.txt"), "from the host\n");
  const sftp = Bun.spawn([SFTP_SERVER, "-e", "-d", share], { stdin: "pipe", stdout: "pipe", stderr: "ignore" });
  const sshfs = Bun.spawn(sshArgv(port, key, `mkdir -p /mnt/y && exec sshfs -f -o passive,idmap=none :${share} /mnt/y`), {
    stdin: sftp.stdout,
    stdout: "pipe",
    stderr: "pipe",
  });
  const pump = (async () => {
    for await (const chunk of sshfs.stdout) {
      sftp.stdin.write(chunk);
      sftp.stdin.flush();
    }
    sftp.stdin.end();
  })();
  try {
    let r = { stdout: "", stderr: "", code: -1 };
    for (let i = 0; i < 50 && r.code !== 0; i++) {
      if (i) await Bun.sleep(200); // the mount appears shortly after sshfs starts
      r = await ssh(port, key, "mountpoint -q /mnt/y && cat /mnt/y/hello.txt && echo from the guest > /mnt/y/back.txt", 20_000);
    }
    expect(r.stdout).toBe("from the host\n");
    expect(readFileSync(join(share, "back.txt"), "utf8")).toBe("from the guest\n");
    expect((await ssh(port, key, "umount /mnt/y")).code).toBe(0);
    expect(await sshfs.exited).toBe(0); // unmounting ends sshfs, its channel, and sftp-server
  } finally {
    sshfs.kill("SIGKILL");
    sftp.kill("SIGKILL");
    await Promise.all([sshfs.exited, sftp.exited, pump.catch(() => {})]);
  }
}

beforeAll(async () => {
  guest = await ensureDemoGuest({ onProgress: (l) => console.error(`build-guest: ${l}`) });
  console.error(`demo guest ${guest.built ? "built" : "cached"} in ${guest.seconds.toFixed(2)} s`);
}, 600_000);

describe("demo guest image", () => {
  test("artifacts exist; the initramfs has /init, dropbear, sshfs and the modules", () => {
    for (const f of [guest.kernel, guest.initrd, join(guest.kernel, "../manifest.json")]) expect(existsSync(f)).toBe(true);
    const entries = listInitramfs(guest.initrd);
    const byName = new Map(entries.map((e) => [e.name, e]));
    expect(byName.get("init")?.mode! & 0o111).toBeTruthy();
    for (const f of [
      "usr/sbin/dropbear",
      "usr/bin/sshfs",
      "bin/fusermount3",
      "usr/sbin/qemu-ga",
      "etc/hotmount/qga",
      "bin/busybox",
      "bin/sh",
      "sbin/init",
      "etc/inittab",
      "lib64/ld-linux-x86-64.so.2",
    ]) {
      expect(byName.has(f)).toBe(true);
    }
    const modFiles = entries.map((e) => e.name).filter((n) => n.startsWith("lib/modules/") && n.endsWith(".ko"));
    const modNames = new Set(modFiles.map((n) => n.split("/").pop()!.replace(/\.ko$/, "").replace(/-/g, "_")));
    for (const m of GUEST_MODULES) expect(modNames.has(m)).toBe(true);
    expect(entries.some((e) => /^lib\/modules\/[^/]+\/modules\.dep$/.test(e.name))).toBe(true);
    const manifest = JSON.parse(readFileSync(join(guest.kernel, "../manifest.json"), "utf8"));
    expect(manifest.key).toBe(guest.key);
  });

  test("a second call is a cache hit well under a second", async () => {
    const t0 = performance.now();
    const again = await ensureDemoGuest();
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(again.built).toBe(false);
    expect(again.initrd).toBe(guest.initrd);
  });

  test("demoGuestAppend passes type and blob only, and rejects garbage", () => {
    const a = demoGuestAppend("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB+x/y= some comment", "loglevel=3");
    expect(a).toBe("console=ttyS0 panic=-1 quiet hotmount.sshkey=AAAAC3NzaC1lZDI1NTE5AAAAIB+x/y= hotmount.keytype=ssh-ed25519 loglevel=3");
    expect(() => demoGuestAppend("not a key")).toThrow();
    expect(() => demoGuestAppend("")).toThrow();
    expect(() => demoGuestAppend("ssh-ed25519 not*base64")).toThrow();
  });
});

describe("demo guest boot (TCG)", () => {
  test("boots, prints the marker, serves SSH, sshfs mounts, virtiofs/9p/fuse are there, poweroff works", async () => {
    const key = join(tmp, "id_ed25519");
    const kg = Bun.spawnSync(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "guest-test", "-f", key]);
    expect(kg.exitCode).toBe(0);
    const port = await freePort();
    const log = join(tmp, "serial.log");
    const vm = startVm(demoGuestAppend(readFileSync(`${key}.pub`, "utf8")), log, port);
    const bootSeconds = await waitForMarker(vm, log);
    console.error(`boot to ${READY_MARKER}: ${bootSeconds.toFixed(2)} s`);

    const tSsh = performance.now();
    const r = await ssh(
      port,
      key,
      "sshfs --version; lsmod; cat /proc/filesystems; ls -l /dev/fuse; hostname; ip -4 addr show eth0; " +
        "for c in mount umount mkdir mountpoint fuser sha256sum dd find stat sync poweroff sleep cat fusermount3; do command -v $c >/dev/null || echo MISSING $c; done",
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("SSHFS version 3");
    expect(r.stdout).toContain("fusermount3 version");
    expect(r.stdout).not.toContain("MISSING");
    for (const m of ["virtiofs", "9p", "fuse", "9pnet_virtio", "virtio_net", "vmw_vsock_virtio_transport"]) {
      expect(r.stdout).toMatch(new RegExp(`^${m}\\s`, "m"));
    }
    for (const fs of ["virtiofs", "9p", "fuse"]) expect(r.stdout).toMatch(new RegExp(`^nodev\\t${fs}$`, "m"));
    expect(r.stdout).toContain("/dev/fuse");
    expect(r.stdout).toMatch(/^hotmount$/m);
    expect(r.stdout).toContain("inet 10.0.2.15/24");
    console.error(`ssh command: ${((performance.now() - tSsh) / 1000).toFixed(2)} s`);

    await reverseSshfsRoundTrip(port, key);

    // busybox poweroff (not -f): init stops everything and the VM ends, so QEMU exits by itself.
    const off = ssh(port, key, "poweroff", 20_000);
    const timer = setTimeout(() => vm.kill("SIGKILL"), 30_000);
    const code = await vm.exited;
    clearTimeout(timer);
    await off; // its session ends with the guest; its own timeout bounds it
    expect(vm.signalCode).toBeNull();
    expect(code).toBe(0);
  }, 300_000);

  test("hotmount.probe=1: marker, then the guest powers itself off", async () => {
    const log = join(tmp, "probe.log");
    const vm = startVm(probeAppend(), log);
    await waitForMarker(vm, log);
    const timer = setTimeout(() => vm.kill("SIGKILL"), 30_000);
    const code = await vm.exited;
    clearTimeout(timer);
    expect(code).toBe(0);
    expect(vm.signalCode).toBeNull();
  }, 240_000);
});
