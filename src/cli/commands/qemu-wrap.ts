// `hotmount qemu-wrap`: the QEMU wrapper for Lima's QEMU_SYSTEM_<ARCH> override, and
// `--install`, which writes the one-word executable Lima needs (Lima runs that executable bare
// for its feature probes, so "hotmount qemu-wrap qemu-system-x86_64" cannot be the value).
import type { Command } from "commander";
import { commandLine, printJson, runAction } from "../output.ts";
import { intIn } from "../parse.ts";

const HELP = `
Lima runs $QEMU_SYSTEM_<ARCH> for its feature probes and then for the VM. Point it at the
wrapper and start (or restart) the instance:

  hotmount qemu-wrap --install                 # prints the export line
  export QEMU_SYSTEM_X86_64=~/.hotmount/lima/bin/qemu-system-x86_64
  limactl stop default; limactl start default
  hotmount mount add default ~/src --writable  # virtiofs into the running Lima VM

Lima's probes pass through untouched. Its VM gets spare PCIe root ports, reserved 9p backends,
shared RAM (or Lima's own, for mountType virtiofs) and a second QMP monitor that hotmount owns;
Lima keeps its qmp.sock. A command line the wrapper cannot extend runs unchanged (unless
--strict), and \`mount add --type virtiofs\` says why. See docs/lima.md.
`;

export function register(program: Command): void {
  program
    .command("qemu-wrap")
    .argument("[qemu...]", "the real QEMU and its arguments (after -- or not: its options are QEMU's)")
    .allowUnknownOption()
    .description("QEMU wrapper for Lima (QEMU_SYSTEM_<ARCH>): Lima's VMs get hot-plug capacity")
    .option("--install", "write the wrapper executable for Lima and print the QEMU_SYSTEM_<ARCH>=... line")
    .option("--dir <dir>", "where --install writes it (default $HOTMOUNT_HOME/lima/bin)")
    .option("--qemu <path>", "the real QEMU for --install (default qemu-system-<host arch> on PATH)")
    .option("--slots <n>", "spare hot-plug slots to add, 1-32 (default 8)", intIn("--slots", 1, 32))
    .option("--9p-slots <n>", "reserved 9p backends, 0-16 (default 4)", intIn("--9p-slots", 0, 16))
    .option("--strict", "refuse a conflicting command line instead of running it unchanged")
    .option("--print-shell", "print the rewritten command line, shell-quoted, instead of running it (the installed wrapper does this)")
    .option("--exec-pid <pid>", "the pid QEMU will run as (the installed wrapper passes its own)", intIn("--exec-pid", 1, 2 ** 31 - 1))
    .option("--json", "with --install: print {path, envVar, qemu} as JSON")
    .addHelpText("after", HELP)
    .action(async (args: string[], o) => {
      const slots: number = o.slots ?? 8;
      const ninePSlots: number = o["9pSlots"] ?? 4;
      if (o.install) return install(o, slots, ninePSlots);
      await runAction(false, async () => {
        const qemu = commandLine(args);
        const { HotmountError } = await import("../../core/errors.ts");
        if (!qemu.length)
          throw new HotmountError("USAGE", "no QEMU command line to wrap", {
            hint: "Use --install to set the wrapper up for Lima; see `hotmount qemu-wrap --help`.",
          });
        const { wrapLimaLaunch } = await import("../../../drivers/index.ts");
        const say = (n: string) => process.stderr.write(`hotmount qemu-wrap: ${n}\n`);
        if (o.printShell) {
          const { joinArgv } = await import("../../core/shell-quote.ts");
          let argv = qemu;
          try {
            const r = wrapLimaLaunch(qemu, { slots, ninePSlots, pid: o.execPid ?? process.ppid, strict: !!o.strict });
            r.notes.forEach(say);
            argv = r.argv;
          } catch (e) {
            // Lima's VM must start even when hotmount cannot help: run its command line as it is.
            if (o.strict) throw e;
            say(`${e instanceof Error ? e.message : String(e)}; running the command line unchanged`);
          }
          process.stdout.write(joinArgv(argv) + "\n");
          return;
        }
        process.exit(await runDirect(qemu, slots, ninePSlots, !!o.strict, say));
      });
    });
}

/** Runs QEMU as a child (for scripts that call `hotmount qemu-wrap qemu-system-... ARGS` themselves). */
async function runDirect(qemu: string[], slots: number, ninePSlots: number, strict: boolean, say: (n: string) => void): Promise<number> {
  const { spawn } = await import("node:child_process");
  const { recordWrappedPid, wrapLimaLaunch } = await import("../../../drivers/index.ts");
  const r = wrapLimaLaunch(qemu, { slots, ninePSlots, pid: 0, strict });
  r.notes.forEach(say);
  const child = spawn(r.argv[0]!, r.argv.slice(1), { stdio: "inherit" });
  if (r.hmName && child.pid) recordWrappedPid(r.hmName, child.pid);
  for (const sig of ["SIGTERM", "SIGHUP", "SIGINT"] as const) process.on(sig, () => child.kill(sig));
  return new Promise((resolve) => child.on("exit", (code, sig) => resolve(code ?? (sig ? 128 : 1))));
}

async function install(o: { dir?: string; qemu?: string; json?: boolean }, slots: number, ninePSlots: number): Promise<void> {
  await runAction(o.json, async () => {
    const { HotmountError } = await import("../../core/errors.ts");
    const { hostArch, installShim } = await import("../../../drivers/index.ts");
    const { selfArgv } = await import("../../client/self.ts");
    const { resolve, basename } = await import("node:path");
    const qemu = o.qemu ? resolve(o.qemu) : Bun.which(`qemu-system-${hostArch()}`);
    if (!qemu) {
      throw new HotmountError("HOST_DEPENDENCY_MISSING", `qemu-system-${hostArch()} is not on PATH`, {
        hint: "Install QEMU, or pass --qemu /path/to/qemu-system-<arch>.",
      });
    }
    const qemuArch = /^qemu-system-(.+)$/.exec(basename(qemu))?.[1] ?? hostArch();
    const r = installShim({ dir: o.dir ? resolve(o.dir) : undefined, qemu, qemuArch, slots, ninePSlots, self: selfArgv() });
    if (o.json) return printJson(r);
    process.stdout.write(
      `wrote ${r.path} (wraps ${r.qemu}: ${slots} hot-plug slots, ${ninePSlots} 9p slots)\n` +
        `Start Lima instances through it (a running instance needs a restart):\n  export ${r.envVar}=${r.path}\n  limactl stop NAME; limactl start NAME\n`,
    );
  });
}
