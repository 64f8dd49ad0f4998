// `hotmount mount extend|history|watch`, and the timed-grant parts of `mount add` and `mount
// list`: grants (--for, --on-expiry), the audit log, and the agent's event stream.
import type { Command } from "commander";
import { OnExpiry, type Event, type HistoryRecord, type Mount } from "../../agent/api.ts";
import { parseDuration, timeLeft } from "../../core/duration.ts";
import { HotmountError } from "../../core/errors.ts";
import { listing, printJson, runAction } from "../output.ts";

/** `--for` and `--on-expiry` of `mount add`, checked: INVALID_ARGUMENT with a hint when hostile. */
export function grantOptions(o: { for?: string; onExpiry?: string }): { forSeconds?: number; onExpiry?: OnExpiry } {
  const onExpiry = o.onExpiry === undefined ? undefined : OnExpiry.safeParse(o.onExpiry).data;
  if (o.onExpiry !== undefined && !onExpiry) {
    throw new HotmountError("INVALID_ARGUMENT", `--on-expiry must be wait or force, not ${JSON.stringify(o.onExpiry.slice(0, 40))}`, {
      hint: "wait: retry until no guest process holds it; force: stop the holders, as `mount remove --force` does.",
    });
  }
  if (o.for === undefined) {
    if (o.onExpiry) throw new HotmountError("USAGE", "--on-expiry needs --for", { hint: "Example: --for 2h --on-expiry force" });
    return {};
  }
  return { forSeconds: parseDuration(o.for), ...(onExpiry && { onExpiry }) };
}

export function expiresColumn(m: Mount): string {
  if (!m.expiresAt) return "-";
  const left = timeLeft(m.expiresAt);
  return left === "expired" ? `expired (${m.onExpiry ?? "wait"})` : left;
}

/** For `mount add` with --type auto: which transport, and why the better ones were passed over. */
export function describeChoice(m: Mount): string {
  const c = m.transportChoice;
  if (!c) return m.expiresAt ? `expires in ${timeLeft(m.expiresAt)} (${m.expiresAt})\n` : "";
  const lines = [`auto chose ${c.chosen}`, ...c.skipped.map((s) => `  not ${s.type}: ${s.reason}`)];
  if (m.expiresAt) lines.push(`expires in ${timeLeft(m.expiresAt)} (${m.expiresAt})`);
  return lines.join("\n") + "\n";
}

function eventLine(e: Event): string {
  const what = e.mountPoint ? ` ${e.mountPoint}${e.mountId ? ` (${e.mountId})` : ""}` : "";
  const more = e.message ? `: ${e.message}` : "";
  return `${e.time} #${e.seq} ${e.instance} ${e.type}${what}${more}\n`;
}

export function registerActivity(mount: Command): void {
  mount
    .command("extend")
    .argument("<instance>", "a running instance")
    .argument("<target>", "guest mount point or mount id of a timed grant")
    .requiredOption("--for <duration>", "how much longer (30s, 30m, 2h, 1d), added to the time left")
    .option("--json", "print the mount as JSON (Mount, with the new expiresAt)")
    .description("give a timed grant (mount add --for) more time")
    .action((instance: string, target: string, o) =>
      runAction(o.json, async () => {
        const seconds = parseDuration(o.for);
        const { extendGrant } = await import("../../client/activity-client.ts");
        const m = await extendGrant(instance, target, seconds);
        if (o.json) printJson(m);
        else process.stdout.write(`${m.mountPoint} in ${instance} now expires in ${timeLeft(m.expiresAt!)} (${m.expiresAt})\n`);
      }),
    );

  mount
    .command("history")
    .argument("[instance]", "only this instance (default: every instance)")
    .option("-n, --lines <n>", "only the last N records")
    .option("--json", "print an array of records (see docs/api.schema.json: HistoryRecord)")
    .description("who added, removed, extended which mount, which grants expired, what failed (the audit log)")
    .action((instance: string | undefined, o) =>
      runAction(o.json, async () => {
        const n = o.lines === undefined ? Infinity : Number(o.lines);
        if (!Number.isSafeInteger(n) && n !== Infinity)
          throw new HotmountError("USAGE", `--lines must be a whole number, not "${o.lines}"`, { hint: "Example: -n 20" });
        if (n < 1) throw new HotmountError("USAGE", "--lines must be at least 1", { hint: "Example: -n 20" });
        const { history } = await import("../../client/activity-client.ts");
        const all: HistoryRecord[] = history(instance);
        const recs = n === Infinity ? all : all.slice(-n);
        process.stdout.write(
          listing(recs, o.json, "no history", ["TIME", "INSTANCE", "ACTION", "OUTCOME", "WHO", "GUEST", "DETAIL"], (r) => [
            r.time,
            r.instance,
            r.action,
            r.outcome,
            r.who.source === "agent"
              ? "agent"
              : `uid ${r.who.uid ?? "?"} pid ${r.who.pid ?? "?"}${r.who.command ? ` ${r.who.command.slice(1).join(" ").slice(0, 60)}` : ""}`,
            r.mountPoint ?? "-",
            r.error?.message ?? r.message ?? (r.hostPath ? `${r.hostPath} (${r.type ?? "?"})` : ""),
          ]),
        );
      }),
    );

  mount
    .command("watch")
    .argument("<instance>", "a running instance")
    .option("--since <seq>", "first replay the kept events after this sequence number (0: all kept)")
    .option("--json", "one JSON Event per line (see docs/api.schema.json: Event)")
    .description("print mount events as they happen (added, ready, failed, removed, expired, agent restarted, guest rebooted) until Ctrl-C")
    .action(async (instance: string, o) => {
      const ctl = new AbortController();
      const stop = () => ctl.abort();
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
      await runAction(o.json, async () => {
        let since: number | undefined;
        if (o.since !== undefined) {
          if (!/^\d{1,15}$/.test(o.since)) {
            throw new HotmountError("INVALID_ARGUMENT", `--since must be a whole number of 0 or more, not ${JSON.stringify(String(o.since).slice(0, 40))}`, {
              hint: "Pass the seq of the last event you saw (0 replays all kept events).",
            });
          }
          since = Number(o.since);
        }
        const { watchEvents } = await import("../../client/activity-client.ts");
        await watchEvents(instance, (e) => process.stdout.write(o.json ? JSON.stringify(e) + "\n" : eventLine(e)), {
          since,
          signal: ctl.signal,
          onOpen: () => process.stderr.write(`watching ${instance} (Ctrl-C to stop)\n`),
        });
      });
      process.exit(0);
    });
}
