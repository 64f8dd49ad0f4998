// `hotmount mount add|remove|list`.
import type { Command } from "commander";
import { HotmountError } from "../../core/errors.ts";
import { cliClient } from "../cli-client.ts";
import { formatAge } from "../../core/duration.ts";
import { listing, printJson, runAction } from "../output.ts";
import { describeChoice, expiresColumn, registerActivity } from "./mount-activity.ts";

export function register(program: Command): void {
  const mount = program.command("mount").description("hot-mount host folders into a running VM, list them, take them out");

  mount
    .command("add")
    .argument("<instance>", "a running instance")
    .argument("<hostdir>", "host folder to share")
    .argument("[guestdir]", "where it appears in the guest (default: the same path as on the host)")
    .description("mount a host folder into the running VM, with no restart")
    .option("-t, --type <type>", "virtiofs (fast, default), 9p, reverse-sshfs (alias sshfs: any SSH VM), or auto (the best the VM can take now)", "virtiofs")
    .option("-w, --writable", "let the guest write (default: read-only)")
    .option("--read-only", "read-only (the default)")
    .option("--persist", "also mount it at every later `vm start` and after a guest reboot (kept in the instance config)")
    .option("--no-watch", "do not replay host changes in the guest (guest file watchers then miss host edits; docs/watch.md)")
    .option(
      "--watch <what>",
      "kinds: also show host creates, deletes and renames to guest watchers as IN_CREATE, IN_DELETE, IN_MOVED_* (a FUSE layer over the transport in the guest; costs throughput, docs/watch.md)",
    )
    .option("--for <duration>", "a timed grant: remove it after this long (30s, 30m, 2h, 1d; at most 366d)")
    .option("--on-expiry <what>", "when a guest process holds it at expiry: wait (retry until free, default) or force (stop the holders)")
    .option("--json", "print the mount as JSON (see docs/api.schema.json: Mount)")
    .addHelpText(
      "after",
      "\nRead-only is the default, as in Lima: pass --writable to let the guest write.\n\nExamples:\n  hotmount mount add dev ~/src/app                 # /home/me/src/app in the guest, read-only\n  hotmount mount add dev ./data /mnt/data --writable\n  hotmount mount add dev ~/notes --type sshfs\n  hotmount mount add dev ~/src/app --writable --watch=kinds   # for VS Code Remote, Parcel, inotifywait -e create\n\nHost edits wake guest file watchers (IN_ATTRIB, IN_CLOSE_WRITE...). Watchers that trust the event\nkind (a new file must be IN_CREATE) need --watch=kinds: a FUSE layer in the guest shows host\ncreates, deletes and renames as IN_CREATE, IN_DELETE, IN_MOVED_FROM/TO. Costs throughput: docs/watch.md.\n",
    )
    .action((instance: string, hostdir: string, guestdir: string | undefined, o) =>
      runAction(o.json, async (p) => {
        const { parseTransport } = await import("../../agent/api.ts");
        const { resolveHostPath, normalizeGuestPath } = await import("../../core/validate.ts");
        const { grantOptions } = await import("./mount-activity.ts");
        const grant = grantOptions(o);
        const type = o.type === "auto" ? "auto" : parseTransport(o.type);
        if (!type) throw new HotmountError("USAGE", `unknown mount type "${o.type}"`, { hint: "Use virtiofs, 9p, reverse-sshfs (sshfs) or auto." });
        if (typeof o.watch === "string" && o.watch !== "kinds")
          throw new HotmountError("USAGE", `unknown --watch "${o.watch}"`, { hint: "Use --watch=kinds, or --no-watch to turn watching off." });
        if (o.writable && o.readOnly) throw new HotmountError("USAGE", "--writable and --read-only contradict each other", { hint: "Pass one of them." });
        const hostPath = resolveHostPath(hostdir);
        const mountPoint = normalizeGuestPath(guestdir ?? hostPath);
        p.step(`mounting ${hostPath} at ${mountPoint} (${type})`);
        const m = await (
          await cliClient()
        ).addMount(instance, {
          hostPath,
          mountPoint,
          type,
          writable: !!o.writable,
          persist: !!o.persist,
          watch: o.watch !== false,
          ...(o.watch === "kinds" && { watchKinds: true }),
          ...grant,
        });
        p.done();
        if (o.json) printJson(m);
        else
          process.stdout.write(
            `${m.hostPath} is mounted at ${m.mountPoint} in ${instance} (${m.type}, ${m.writable ? "writable" : "read-only"}, id ${m.id})\n` +
              describeChoice(m),
          );
      }),
    );

  mount
    .command("remove")
    .alias("rm")
    .argument("<instance>", "instance name")
    .argument("<target>", "guest mount point or mount id")
    .description("unmount in the guest, then detach; refused while a guest process uses it unless --force")
    .option("-f, --force", "stop guest processes using the mount, then unmount and detach")
    .option("--json", "print {id, mountPoint, removed} as JSON")
    .action((instance: string, target: string, o) =>
      runAction(o.json, async (p) => {
        const c = await cliClient();
        const before = (await c.listMounts(instance)).find((m) => m.id === target || m.mountPoint === target);
        p.step(`removing ${target}`);
        await c.removeMount(instance, target, { force: !!o.force });
        p.done();
        if (o.json) printJson({ id: before?.id ?? target, mountPoint: before?.mountPoint ?? target, removed: true });
        else process.stdout.write(`removed ${before?.mountPoint ?? target} from ${instance}\n`);
      }),
    );

  mount
    .command("list")
    .alias("ls")
    .argument("[instance]", "only this instance (default: every running one)")
    .description("list hot-mounts")
    .option("--json", "print an array of mounts (see docs/api.schema.json: Mount)")
    .action((instance: string | undefined, o) =>
      runAction(o.json, async () => {
        const c = await cliClient();
        const mounts = instance ? await c.listMounts(instance) : await c.listAllMounts();
        await writeOut(
          listing(mounts, o.json, "no mounts", ["ID", "INSTANCE", "TYPE", "MODE", "STATE", "AGE", "EXPIRES", "HOST", "GUEST"], (m) => [
            m.id,
            m.instance,
            m.static ? `${m.type} (static)` : m.type,
            `${m.writable ? "rw" : "ro"}${m.persist ? ",persist" : ""}${m.watch === false ? ",nowatch" : m.watchWarning ? ",watch!" : ""}`,
            m.state,
            formatAge(m.createdAt),
            expiresColumn(m),
            m.hostPath,
            m.mountPoint,
          ]),
        );
        if (o.json) return;
        // On stderr (stdout stays the table), each on lines of its own once the table is out.
        const warnings = watchWarningLines(mounts);
        if (warnings.length) process.stderr.write(`\n${warnings.join("\n")}\n`);
      }),
    );

  registerActivity(mount);
}

/** Resolves once `text` has gone out on stdout, so that what follows on stderr comes after it. */
function writeOut(text: string): Promise<void> {
  return new Promise((resolve) => process.stdout.write(text, () => resolve()));
}

/** `mount list`'s watch warnings: one line per distinct warning, naming the mounts it is about. */
export function watchWarningLines(mounts: ReadonlyArray<{ id: string; mountPoint: string; watchWarning?: string }>): string[] {
  const byText = new Map<string, string[]>();
  for (const m of mounts) if (m.watchWarning) byText.set(m.watchWarning, [...(byText.get(m.watchWarning) ?? []), `${m.id} (${m.mountPoint})`]);
  return [...byText].map(([text, which]) => `warning: ${which.join(", ")}: ${text.replace(/\s*\n\s*/g, " ")}`);
}
