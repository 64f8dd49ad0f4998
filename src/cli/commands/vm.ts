// `hotmount vm start|stop|list|logs`.
import type { Command } from "commander";
import { intIn, oneOf, parseMemory } from "../parse.ts";
import { cliClient } from "../cli-client.ts";
import { listing, printJson, runAction } from "../output.ts";

export function register(program: Command): void {
  const vm = program.command("vm").description("start, stop and list hotmount VMs");

  vm.command("start")
    .argument("<name>", "instance name (lower-case letters, digits, '-')")
    .description("boot a hot-plug-ready VM (the built-in demo guest unless --kernel is given) and its agent")
    .option("--memory <size>", "guest RAM, e.g. 512M or 2G (default 512M)", parseMemory)
    .option("--cpus <n>", "virtual CPUs (default 2)", intIn("--cpus", 1, 256))
    .option("--slots <n>", "spare hot-plug slots = concurrent virtiofs/9p mounts, 1-32 (default 8)", intIn("--slots", 1, 32))
    .option("--9p-slots <n>", "reserved 9p backends, 0-16 (default 4)", intIn("--9p-slots", 0, 16))
    .option("--kernel <path>", "boot this kernel instead of the demo guest")
    .option("--initrd <path>", "initramfs for --kernel")
    .option("--append <args>", "kernel command line for --kernel")
    .option(
      "--image <debian|path>",
      "boot a disk image: debian (built and cached on first use) or a qcow2/raw root filesystem with vmlinuz and initrd.img beside it; cloud-init makes user dev",
    )
    .option("--arch <arch>", "guest architecture: x86_64 (q35) or aarch64 (virt); default: the host's", oneOf("--arch", ["x86_64", "aarch64"] as const))
    .option("--accel <accel>", "auto (KVM if a probe boot works, else TCG), kvm or tcg", oneOf("--accel", ["auto", "kvm", "tcg"] as const))
    .option("--driver <driver>", "qemu (Linux hosts) or vz (macOS); default: the host's", oneOf("--driver", ["qemu", "vz"] as const))
    .option(
      "--mount <host:guest>",
      "a static virtiofs share configured at boot (writable; add :ro for read-only); repeatable",
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .option("--json", "print the instance as JSON when it is up")
    .addHelpText(
      "after",
      "\nExamples:\n  hotmount vm start dev\n  hotmount vm start dev --mount ~/src:/mnt/src\n  hotmount vm start deb --image debian\n  hotmount vm start big --memory 2G --cpus 4 --slots 16\n  hotmount vm start arm1 --arch aarch64\n",
    )
    .action((name: string, o) =>
      runAction(o.json, async (p) => {
        const c = await cliClient();
        await c.startVm(
          name,
          {
            memoryMiB: o.memory,
            cpus: o.cpus,
            slots: o.slots,
            ninePSlots: o["9pSlots"],
            kernel: o.kernel,
            initrd: o.initrd,
            append: o.append,
            accel: o.accel,
            driver: o.driver,
            mounts: o.mount,
            image: o.image,
            arch: o.arch,
          },
          p.step,
        );
        p.done();
        const s = await c.summary(name);
        if (o.json) printJson(s);
        else
          process.stdout.write(
            `${name} is running (${s.accel?.toUpperCase()}, ssh port ${s.ssh?.port}, ${s.slots.total} slots). Try: hotmount mount add ${name} ~/project\n`,
          );
      }),
    );

  vm.command("stop")
    .argument("<name>", "instance name")
    .description("remove its mounts, power the guest off and stop QEMU (each step bounded); a stopped VM is fine")
    .option("--json", "print {name, state} as JSON")
    .action((name: string, o) =>
      runAction(o.json, async (p) => {
        await (await cliClient()).stopVm(name, p.step);
        p.done();
        if (o.json) printJson({ name, state: "stopped" });
        else process.stdout.write(`${name} is stopped\n`);
      }),
    );

  vm.command("list")
    .alias("ls")
    .description("list instances with their state, accelerator and slots")
    .option("--json", "print an array of instances (see docs/api.schema.json: InstanceSummary)")
    .action((o) =>
      runAction(o.json, async () => {
        const list = await (await cliClient()).listInstances();
        process.stdout.write(
          listing(
            list,
            o.json,
            "no instances; start one with `hotmount vm start NAME`",
            ["NAME", "DRIVER", "STATE", "ACCEL", "SSH", "SLOTS", "MOUNTS"],
            (i) => [i.name, i.driver, i.state, i.accel ?? "-", i.ssh ? `127.0.0.1:${i.ssh.port}` : "-", `${i.slots.used}/${i.slots.total}`, String(i.mounts)],
          ),
        );
      }),
    );

  vm.command("logs")
    .argument("<name>", "instance name")
    .description("print the tail of the guest console (or --agent: the agent log, --qemu: QEMU's output)")
    .option("--agent", "the agent's log")
    .option("--qemu", "QEMU's own stderr")
    .option("-n, --lines <n>", "how many lines (default 40)", intIn("--lines", 1, 100000))
    .action(async (name: string, o) => {
      const { instancePaths } = await import("../../core/paths.ts");
      const { tailFile } = await import("../../util/process.ts");
      const p = instancePaths(name);
      const file = o.agent ? p.agentLog : o.qemu ? p.qemuLog : p.serialLog;
      process.stdout.write(tailFile(file, o.lines ?? 40) + "\n");
    });
}
