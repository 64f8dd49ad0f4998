// `hotmount libvirt prepare DOMAIN`: makes a libvirt domain hot-plug ready at its next boot.
import type { Command } from "commander";
import { fail, printJson } from "../output.ts";
import { intIn } from "../parse.ts";

export function register(program: Command): void {
  const lv = program.command("libvirt").description("libvirt domains: get one ready for hot-plugging");
  lv.command("prepare")
    .argument("<domain>", "the libvirt domain's own name (virsh list --all)")
    .description("edit the domain's persistent XML: memfd shared memory, spare PCIe root ports, the guest-agent channel")
    .option("--slots <n>", "spare root ports to have, 1-32 (default 8): one per concurrent virtiofs mount", intIn("--slots", 1, 32))
    .option("--next-boot", "the domain runs: change its persistent XML for the next boot anyway")
    .option("--dry-run", "only show the change")
    .option("-c, --connect <uri>", "libvirt URI (default qemu:///system as root, qemu:///session otherwise)")
    .option("--json", "print {domain, uri, changes, diff, applied, nextBoot} as JSON")
    .action(async (domain: string, o) => {
      try {
        const { prepareDomain } = await import("../../../drivers/index.ts");
        const { SESSION_URI, SYSTEM_URI } = await import("../../util/virsh.ts");
        const uri: string = o.connect ?? (process.getuid?.() === 0 ? SYSTEM_URI : SESSION_URI);
        const r = await prepareDomain({
          uri,
          domain,
          slots: o.slots ?? 8,
          nextBoot: !!o.nextBoot,
          dryRun: !!o.dryRun,
          show: (diff) => (o.json ? undefined : process.stdout.write(diff)),
        });
        if (o.json) return printJson(r);
        if (!r.changes.length) return void process.stdout.write(`${domain} is already hot-plug ready (${uri})\n`);
        const what = r.changes.map((c) => `  - ${c}`).join("\n");
        if (!r.applied) return void process.stdout.write(`would change ${domain}:\n${what}\n(dry run: nothing applied)\n`);
        process.stdout.write(
          `changed ${domain}:\n${what}\n${r.nextBoot ? "It applies at the domain's next boot: shut it down and start it again.\n" : "It applies when the domain starts.\n"}`,
        );
      } catch (e) {
        fail(e, !!o.json);
      }
    });
}
