// Adoption on a real VM: `hotmount run NAME -- qemu-system-x86_64 ...` runs a plain QEMU
// command line (the demo guest's kernel and initrd, no hotmount-specific argument), hot-mounts
// work into it, and `vm stop` ends it. Command lines hotmount cannot extend are refused clearly,
// before anything starts.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureSshKey } from "../../src/core/ssh-key.ts";
import { demoGuestAppend } from "../../src/guest-image/contract.ts";
import { ensureDemoGuest } from "../../src/guest-image/demo-guest.ts";
import { GuestSsh } from "../../src/guest-exec/ssh-client.ts";
import { freeLoopbackPort, waitUntil } from "../../src/util/process.ts";
import { hm, hmOk, hotmountArgv } from "../helpers/cli.ts";
import { ourProcesses } from "../helpers/leaks.ts";

let root: string;
let userArgv: string[];
let port: number;
let run: ReturnType<typeof Bun.spawn> | null = null;
let runErr = "";

beforeAll(async () => {
  root = mkdtempSync(`${tmpdir()}/hmr-`);
  const g = await ensureDemoGuest();
  port = await freeLoopbackPort();
  // What a user might type: nothing in it is hotmount's.
  userArgv = [
    "qemu-system-x86_64",
    "-machine",
    "q35",
    "-accel",
    "tcg",
    "-cpu",
    "max",
    "-m",
    "384",
    "-smp",
    "1",
    "-nodefaults",
    "-display",
    "none",
    "-no-reboot",
    "-kernel",
    g.kernel,
    "-initrd",
    g.initrd,
    "-append",
    demoGuestAppend(ensureSshKey().publicKeyLine),
    "-serial",
    `file:${join(root, "console.log")}`,
    "-netdev",
    `user,id=n0,hostfwd=tcp:127.0.0.1:${port}-:22`,
    "-device",
    "virtio-net-pci,netdev=n0",
  ];
}, 300_000);

afterAll(async () => {
  if (run && run.exitCode === null) {
    await hm(["vm", "stop", "adopt"]);
    if (!(await waitUntil(() => run!.exitCode !== null, 20_000))) run.kill("SIGKILL");
  }
  rmSync(root, { recursive: true, force: true });
}, 60_000);

const swap = (argv: string[], from: string[], to: string[]) => {
  const i = argv.findIndex((a, n) => from.every((f, k) => argv[n + k] === f));
  return [...argv.slice(0, i), ...to, ...argv.slice(i + from.length)];
};

test("a non-q35 machine is refused before anything starts, naming the argument", async () => {
  const r = await hm(["run", "bad", "--", ...swap(userArgv, ["-machine", "q35"], ["-machine", "pc"])]);
  expect(r.code).toBe(8);
  expect(r.stderr).toContain(
    "error: hotmount hot-plugs onto PCIe root ports, which need the q35 machine (x86_64) or the virt machine (aarch64); your command line has -machine pc",
  );
  expect(r.stderr).toContain("hint: Add -machine q35");
  expect(ourProcesses().filter((p) => p.argv.includes("qemu-system"))).toEqual([]);
  expect(((await hmOk(["vm", "list", "--json"])).json() as any[]).some((i) => i.name === "bad")).toBe(false);
  expect(existsSync(join(process.env.HOTMOUNT_HOME!, "instances", "bad"))).toBe(false);
}, 180_000);

test("the user's own non-shared -machine memory-backend is refused, with the fix", async () => {
  const own = swap(userArgv, ["-machine", "q35"], ["-object", "memory-backend-ram,id=m0,size=384M", "-machine", "q35,memory-backend=m0"]);
  const r = await hm(["run", "bad", "--", ...own]);
  expect(r.code).toBe(8);
  expect(r.stderr).toContain("error: your -machine memory-backend=m0 is not shared memory (share=on), which virtiofs needs");
  expect(r.stderr).toContain("memory-backend-memfd,id=m0,size=<as -m>,share=on");
}, 180_000);

test("no SSH route into the guest is refused: mounting needs one", async () => {
  const noFwd = swap(userArgv, ["-netdev", `user,id=n0,hostfwd=tcp:127.0.0.1:${port}-:22`], ["-netdev", "user,id=n0"]);
  const r = await hm(["run", "bad", "--", ...noFwd]);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain("forwards no port to the guest's port 22");
  expect(r.stderr).toContain("--ssh user@host:port");
}, 180_000);

test("hotmount run adopts a plain QEMU command line: virtiofs and 9p hot-mount into it; vm stop ends it", async () => {
  const t0 = performance.now();
  run = Bun.spawn([...hotmountArgv(), "run", "adopt", "--slots", "4", "--", ...userArgv], {
    env: { ...process.env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const reader = (async () => {
    for await (const chunk of run!.stderr as ReadableStream<Uint8Array>) runErr += new TextDecoder().decode(chunk);
  })();
  const ready = await waitUntil(() => runErr.includes("is ready for hot-mounts") || run!.exitCode !== null, 240_000, 200);
  if (!ready || run.exitCode !== null) console.log(runErr);
  expect(ready && run.exitCode === null).toBe(true);
  console.log(`run → ready for hot-mounts: ${Math.round(performance.now() - t0)} ms`);
  expect(runErr).toContain("adopt: QEMU is pid");
  // As root, the adopted QEMU cannot make device nodes (CAP_MKNOD, bit 27, out of its bounding set).
  const qemuPid = Number(/adopt: QEMU is pid (\d+)/.exec(runErr)![1]);
  const capBnd = BigInt("0x" + /CapBnd:\s*([0-9a-f]+)/.exec(readFileSync(`/proc/${qemuPid}/status`, "utf8"))![1]);
  if (process.getuid?.() === 0) expect(capBnd & (1n << 27n)).toBe(0n);
  expect(readFileSync(`/proc/${qemuPid}/cmdline`, "utf8")).toContain("qemu-system");

  const row = ((await hmOk(["vm", "list", "--json"])).json() as any[]).find((i) => i.name === "adopt");
  expect(row).toMatchObject({ driver: "qemu", state: "running", accel: "tcg", slots: { total: 4, used: 0 } });
  expect(row.transports.filter((t: any) => t.available).map((t: any) => t.type)).toEqual(["virtiofs", "9p", "reverse-sshfs"]);

  const dir = join(root, "share");
  mkdirSync(dir);
  writeFileSync(join(dir, "a.txt"), "adopted\n");
  await hmOk(["mount", "add", "adopt", dir, "/mnt/a", "--writable"]);
  await hmOk(["mount", "add", "adopt", dir, "/mnt/b", "--type", "9p"]);
  const ssh = await GuestSsh.connect({ host: "127.0.0.1", port, user: "root", identityFile: ensureSshKey().privateKey });
  try {
    expect((await ssh.exec(["cat", "/mnt/a/a.txt", "/mnt/b/a.txt"])).stdout).toBe("adopted\nadopted\n");
    await ssh.exec(["sh", "-c", "echo back > /mnt/a/b.txt && sync"]);
    expect(readFileSync(join(dir, "b.txt"), "utf8")).toBe("back\n");
    expect((await ssh.exec(["sh", "-c", "grep -E ' /mnt/(a|b) ' /proc/mounts | cut -d' ' -f3"])).stdout).toBe("virtiofs\n9p\n");
  } finally {
    ssh.close();
  }
  await hmOk(["mount", "remove", "adopt", "/mnt/b"]);

  // vm stop removes the mounts, powers the guest off; QEMU exits, and so does `run`.
  await hmOk(["vm", "stop", "adopt"]);
  expect(await waitUntil(() => run!.exitCode !== null, 30_000)).toBe(true);
  await reader;
  expect(run.exitCode).toBe(0);
  expect(runErr).toContain("adopt: QEMU exited (0)");
  expect(((await hmOk(["vm", "list", "--json"])).json() as any[]).some((i) => i.name === "adopt")).toBe(false);
  expect(existsSync(join(process.env.HOTMOUNT_HOME!, "instances", "adopt", "instance.json"))).toBe(false);
}, 180_000);
