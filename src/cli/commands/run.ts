// `hotmount run NAME -- qemu-system-x86_64 ARGS...`: adopts a QEMU command line. It adds what
// hot-plug needs (drivers/qemu/argv-rewrite.ts), runs QEMU in the foreground as the user would, and
// attaches an agent, so `hotmount mount add NAME ...` works. When QEMU exits, so does `run`.
import type { Command } from "commander";
import { commandLine, runAction } from "../output.ts";
import { intIn } from "../parse.ts";

const HELP = `
Your arguments stay as they are; hotmount adds spare pcie-root-ports, shared memfd RAM sized
from -m, reserved 9p backends and its own QMP socket. It refuses a command line it cannot
extend (not q35, your own non-shared -machine memory-backend, no free PCIe slot) and says why.

Mounting needs SSH into the guest: give --ssh, or forward the guest's port 22
(-netdev user,hostfwd=tcp:127.0.0.1:PORT-:22), which is then used as root with hotmount's key.

Examples:
  hotmount run dev --ssh me@127.0.0.1:2222 --identity ~/.ssh/id_ed25519 -- \\
      qemu-system-x86_64 -machine q35 -accel kvm -m 2G -drive file=disk.qcow2,if=virtio \\
      -netdev user,id=n0,hostfwd=tcp:127.0.0.1:2222-:22 -device virtio-net-pci,netdev=n0
  hotmount mount add dev ~/src --writable        # from another terminal
`;

interface RunOpts {
  slots?: number;
  "9pSlots"?: number;
  ssh?: string;
  identity?: string;
}

export function register(program: Command): void {
  program
    .command("run")
    .argument("<name>", "instance name for the adopted VM")
    .argument("<qemu...>", "your QEMU command line (after -- or not: its options are QEMU's)")
    .allowUnknownOption()
    .description("run your own QEMU command line with hot-plug capacity added, and attach an agent")
    .option("--slots <n>", "spare hot-plug slots = concurrent virtiofs/9p mounts, 1-32 (default 8)", intIn("--slots", 1, 32))
    .option("--9p-slots <n>", "reserved 9p backends, 0-16 (default 4)", intIn("--9p-slots", 0, 16))
    .option("--ssh <user@host:port>", "how to reach the guest's sshd (default: root at your hostfwd to port 22)")
    .option("--identity <key>", "private key for --ssh (default: hotmount's own key)")
    .addHelpText("after", HELP)
    .action((name: string, qemu: string[], o: RunOpts) =>
      runAction(false, async () => {
        process.exit(await runAdopted(name, commandLine(qemu), o));
      }),
    );
}

function parseSsh(
  spec: string | undefined,
  fwd: { host: string; port: number } | null,
  identity: string,
): { host: string; port: number; user: string; identityFile: string } | null {
  if (spec) {
    const m = /^(?:([^@]+)@)?([^:@]+)(?::(\d+))?$/.exec(spec);
    if (!m) return null;
    return { user: m[1] ?? "root", host: m[2]!, port: Number(m[3] ?? 22), identityFile: identity };
  }
  return fwd ? { user: "root", host: fwd.host === "0.0.0.0" ? "127.0.0.1" : fwd.host, port: fwd.port, identityFile: identity } : null;
}

async function runAdopted(name: string, argv: string[], o: RunOpts): Promise<number> {
  const { spawn } = await import("node:child_process");
  const { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } = await import("node:fs");
  const { resolve } = await import("node:path");
  const { HotmountError } = await import("../../core/errors.ts");
  const { writeJsonAtomic } = await import("../../core/instance-config.ts");
  const { instancePaths, ninePSlotLink } = await import("../../core/paths.ts");
  const { ensureSshKey } = await import("../../core/ssh-key.ts");
  const { checkName } = await import("../../client/instances.ts");
  const { ensureHome } = await import("../../client/home.ts");
  const { startAgent } = await import("../../client/agent-supervisor.ts");
  const { registerAdopted } = await import("../../client/external-vms.ts");
  const { prepareWrapDirs, qemuLaunchArgv, wrapQemuArgv } = await import("../../../drivers/index.ts");
  const { withLock } = await import("../../util/lock.ts");
  const { isAlive, readPidFile, removeQuietly, sleep, terminate, waitUntil } = await import("../../util/process.ts");
  const { GuestSsh } = await import("../../guest-exec/ssh-client.ts");
  const say = (s: string) => process.stderr.write(`hotmount: ${s}\n`);

  checkName(name);
  ensureHome();
  const paths = instancePaths(name);
  const slots = o.slots ?? 8;
  const ninePSlots = o["9pSlots"] ?? 4;

  // A refused command line leaves nothing behind: not even the instance dir the lock needs.
  const created = !existsSync(paths.dir);
  mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
  const { child, exited, target } = await withLock(paths.lock, `instance "${name}"`, async () => {
    if (existsSync(paths.config)) {
      const prev = JSON.parse(readFileSync(paths.config, "utf8")) as { external?: string };
      const pid = readPidFile(paths.qemuPid);
      if (prev.external !== "run" || (pid && isAlive(pid))) {
        throw new HotmountError(
          "INSTANCE_ALREADY_RUNNING",
          prev.external === "run" ? `"${name}" is already running under \`hotmount run\`` : `"${name}" is already a hotmount instance`,
          {
            hint: "Pick another name (see `hotmount vm list`).",
          },
        );
      }
    }
    const links = Array.from({ length: ninePSlots }, (_, i) => ninePSlotLink(name, i));
    const w = wrapQemuArgv(argv, { slots, ninePLinks: links, qmpSocket: paths.qmpSock, memfd: process.platform === "linux" });
    const identity = o.identity ? resolve(o.identity) : ensureSshKey().privateKey;
    const ssh = parseSsh(o.ssh, w.sshForward, identity);
    if (!ssh) {
      throw new HotmountError(
        "USAGE",
        o.ssh ? `cannot read --ssh ${o.ssh}` : "hotmount needs SSH into the guest to mount, and your command line forwards no port to the guest's port 22",
        {
          hint: "Pass --ssh user@host:port (and --identity KEY), or add -netdev user,...,hostfwd=tcp:127.0.0.1:PORT-:22.",
        },
      );
    }
    prepareWrapDirs(name, ninePSlots);
    registerAdopted({ name, memoryMiB: w.memoryMiB, cpus: w.cpus, slots, ninePSlots, ssh });
    // As root, without the power to make device nodes (see qemuLaunchArgv); setpriv execs QEMU, so the pid is QEMU's.
    const launch = qemuLaunchArgv(w.argv);
    const c = spawn(launch[0]!, launch.slice(1), { stdio: "inherit" });
    const done = new Promise<number>((ok) => c.on("exit", (code, sig) => ok(code ?? (sig ? 128 : 1))));
    const pid = await new Promise<number>((ok, bad) => {
      c.once("spawn", () => ok(c.pid!));
      c.once("error", (e) =>
        bad(new HotmountError("VM_START_FAILED", `could not run ${w.argv[0]}: ${e.message}`, { hint: "Give the QEMU binary's name or full path after --." })),
      );
    }).catch((e) => {
      removeQuietly(paths.config);
      throw e;
    });
    writeFileSync(paths.qemuPid, String(pid));
    writeJsonAtomic(paths.runtime, { pid, accel: w.accel, accelReason: "from your command line", startedAt: new Date().toISOString() });
    say(`${name}: QEMU is pid ${pid} (${slots} hot-plug slots, ${ninePSlots} 9p slots); waiting for the guest's SSH at ${ssh.user}@${ssh.host}:${ssh.port}`);
    return { child: c, exited: done, target: ssh };
  }).catch((e) => {
    if (created) rmSync(paths.dir, { recursive: true, force: true });
    throw e;
  });

  // Ctrl-C reaches QEMU through the terminal's process group; other signals are passed on.
  process.on("SIGINT", () => {});
  for (const sig of ["SIGTERM", "SIGHUP"] as const) process.on(sig, () => child.kill(sig));
  let qemuDone = false;
  void exited.then(() => (qemuDone = true));
  try {
    // The agent starts once the guest answers SSH (a real guest may take minutes to boot). A QEMU
    // that exits meanwhile (a bad argument) ends the wait: its own error is on stderr.
    while (!qemuDone) {
      const s = await GuestSsh.connect(target, { timeoutMs: 5000 }).catch(() => null);
      if (s) {
        s.close();
        break;
      }
      await sleep(500);
    }
    if (!qemuDone) await Promise.race([startAgent(name, 120_000), exited]);
    if (!qemuDone) say(`${name} is ready for hot-mounts: hotmount mount add ${name} HOSTDIR [GUESTDIR]`);
  } catch (e) {
    if (!qemuDone) say(`the agent did not start, so mounts will not work (QEMU keeps running): ${e instanceof Error ? e.message : e}`);
  }
  const code = await exited;
  // The agent sees the VM go and exits by itself; then the instance is forgotten (logs stay).
  const agentPid = readPidFile(paths.agentPid);
  if (agentPid && !(await waitUntil(() => !isAlive(agentPid), 5000))) await terminate(agentPid, 2000);
  removeQuietly(paths.config, paths.qemuPid, paths.qmpSock, paths.runtime, paths.agentSock, paths.agentPid);
  say(`${name}: QEMU exited (${code})`);
  return code;
}
