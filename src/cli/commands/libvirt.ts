// `hotmount libvirt prepare DOMAIN`: makes a libvirt domain hot-plug ready at its next boot.
// `hotmount libvirt ssh DOMAIN`: the SSH user and key hotmount logs in with (reverse-sshfs, and
// guest commands when the domain has no guest agent).
import type { Command } from "commander";
import { printJson, runAction } from "../output.ts";
import { intIn } from "../parse.ts";

export function register(program: Command): void {
  const lv = program.command("libvirt").description("libvirt domains: get one ready for hot-plugging, set how hotmount logs in");
  lv.command("prepare")
    .argument("<domain>", "the libvirt domain's own name (virsh list --all)")
    .description("edit the domain's persistent XML: memfd shared memory, spare PCIe root ports, the guest-agent channel")
    .option("--slots <n>", "spare root ports to have, 1-32 (default 8): one per concurrent virtiofs mount", intIn("--slots", 1, 32))
    .option("--next-boot", "the domain runs: change its persistent XML for the next boot anyway")
    .option("--dry-run", "only show the change")
    .option("-c, --connect <uri>", "libvirt URI (default qemu:///system as root, qemu:///session otherwise)")
    .option("--json", "print {domain, uri, changes, diff, applied, nextBoot} as JSON")
    .action((domain: string, o) =>
      runAction(o.json, async () => {
        const { prepareDomain } = await import("../../../drivers/index.ts");
        const uri = await libvirtUri(o.connect);
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
      }),
    );
  lv.command("ssh")
    .argument("<domain>", "the libvirt domain's own name (virsh list --all)")
    .description("set (or show) the SSH user and key hotmount logs in with; the address comes from libvirt")
    .option("-u, --user <user>", "log in as this user (saved for this domain)")
    .option("-i, --identity <file>", "with this private key (saved for this domain)")
    .option("--clear", "forget what was saved for this domain")
    .option("-c, --connect <uri>", "libvirt URI (default qemu:///system as root, qemu:///session otherwise)")
    .option("--json", "print {user, identityFile, from, instance, agentRunning} as JSON")
    .addHelpText(
      "after",
      "\nWithout flags it shows the login in use. Order: the flags saved here, HOTMOUNT_LIBVIRT_SSH_USER, a User/IdentityFile\nthat your ~/.ssh/config gives this domain's name (`ssh -G DOMAIN`), then root with hotmount's own key.\n",
    )
    .action((domain: string, o) =>
      runAction(o.json, async () => {
        const { resolve } = await import("node:path");
        const { libvirtSshLogin, setLibvirtSshLogin } = await import("../../../drivers/index.ts");
        const uri = await libvirtUri(o.connect);
        const login =
          o.user || o.identity ? { ...(o.user && { user: o.user as string }), ...(o.identity && { identityFile: resolve(o.identity as string) }) } : null;
        if (!login && !o.clear) {
          const now = libvirtSshLogin(uri, domain);
          if (o.json) return printJson(now);
          return void process.stdout.write(`${domain}: user ${now.user} (${now.from.user}), key ${now.identityFile} (${now.from.identityFile})\n`);
        }
        const r = setLibvirtSshLogin(uri, domain, o.clear ? null : login);
        if (o.json) return printJson(r);
        process.stdout.write(`${domain}: user ${r.user} (${r.from.user}), key ${r.identityFile} (${r.from.identityFile})\n`);
        if (r.agentRunning)
          process.stdout.write(
            `hotmount's agent for "${r.instance}" uses this login from its next SSH connection (at once if it has none; a session it holds stays until it ends).\n`,
          );
      }),
    );
}

/** `--connect`, else libvirt's own default for this user: qemu:///system as root, qemu:///session otherwise. */
async function libvirtUri(connect: string | undefined): Promise<string> {
  const { SESSION_URI, SYSTEM_URI } = await import("../../util/virsh.ts");
  return connect ?? (process.getuid?.() === 0 ? SYSTEM_URI : SESSION_URI);
}
