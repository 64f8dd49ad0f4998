// The Debian guest tier's helpers: guest commands as the non-root user (and as root through
// sudo), hotmount run as another host user, the ownership probe behind docs/ownership.md, and
// a user's file watcher (inotifywait) for the watch replay (docs/watch.md).
import { createHash } from "node:crypto";
import { appendFileSync, chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { expect } from "bun:test";
import { join } from "node:path";
import type { SshInfo } from "../../src/agent/api.ts";
import { GuestSsh, type ExecResult } from "../../src/guest-exec/ssh-client.ts";
import { waitUntil } from "../../src/util/process.ts";
import { hotmountArgv, type RunResult } from "./cli.ts";

export const sha = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");

export interface GuestUser {
  /** As the SSH user (dev): no sudo. */
  dev(argv: string[], timeoutMs?: number): Promise<ExecResult>;
  /** As root, through `sudo -n`. */
  root(argv: string[], timeoutMs?: number): Promise<ExecResult>;
  /** dev, throwing unless exit 0; returns stdout. */
  devOk(argv: string[], timeoutMs?: number): Promise<string>;
  /** `inotifywait -m -r` as dev on a guest folder: a user's file watcher, as dev tools run it. */
  watch(dir: string): Promise<GuestWatch>;
  close(): void;
}

export interface GuestWatch {
  /** Event lines so far, "EVENTS path" (a folder's own events name it with a trailing /). */
  lines: string[];
  /** Waits until a line after index `from` names `path` with one of `events`. */
  expect(from: number, path: string, events: string[]): Promise<void>;
  close(): Promise<void>;
}

export function guestUser(target: () => SshInfo): GuestUser {
  let ssh: GuestSsh | null = null;
  // A guest under load may reset a connection attempt (sshd's MaxStartups): retried, bounded.
  const conn = async () => (ssh?.isConnected ? ssh : (ssh = await GuestSsh.connectWithRetry(target(), 60_000)));
  const g: GuestUser = {
    dev: async (argv, timeoutMs = 60_000) => (await conn()).exec(argv, { root: false, timeoutMs }),
    root: async (argv, timeoutMs = 60_000) => (await conn()).exec(argv, { root: true, timeoutMs }),
    async devOk(argv, timeoutMs) {
      const r = await g.dev(argv, timeoutMs);
      if (r.code !== 0) throw new Error(`guest (dev) ${argv.join(" ")} exited ${r.code}: ${r.stderr}`);
      return r.stdout;
    },
    async watch(dir) {
      // Ends when the channel's stdin closes, as a watcher killed with its terminal would.
      const script = 'inotifywait -m -r --format "%e %w%f" "$1" & p=$!; read _; kill $p';
      const ch = await (await conn()).channel(["sh", "-c", script, "sh", dir], { root: false });
      const lines: string[] = [];
      let buf = "";
      let ready = false;
      ch.on("data", (d: Buffer) => {
        buf += d.toString();
        for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
          lines.push(buf.slice(0, i));
          buf = buf.slice(i + 1);
        }
      });
      ch.stderr.on("data", (d: Buffer) => (ready ||= d.toString().includes("Watches established")));
      const closed = new Promise<void>((r) => ch.on("close", () => r()));
      await waitUntil(() => ready, 30_000);
      const seen = (from: number, path: string, events: string[]) =>
        lines.slice(from).some(
          (l) =>
            l.endsWith(` ${path}`) &&
            l
              .split(" ")[0]!
              .split(",")
              .some((e) => events.includes(e)),
        );
      return {
        lines,
        async expect(from, path, events) {
          if (!(await waitUntil(() => seen(from, path, events), 20_000)))
            throw new Error(`no ${events.join("|")} on ${path} within 20 s; inotifywait saw: ${lines.slice(from).join(" | ")}`);
        },
        async close() {
          ch.end();
          await Promise.race([closed, Bun.sleep(5000)]);
        },
      };
    },
    close: () => ssh?.close(),
  };
  return g;
}

const REPO = join(import.meta.dir, "..", "..");
const argvAs = new Map<number, string[]>();

/**
 * How uid can run hotmount. A clone under a private folder (/root/...) is not readable by
 * another user: then a copy of the compiled binary goes into `home` (built when missing).
 */
function hotmountArgvAs(uid: number, gid: number, env: Record<string, string>): string[] {
  const hit = argvAs.get(uid);
  if (hit) return hit;
  const as = (argv: string[]) =>
    Bun.spawnSync(["setpriv", `--reuid=${uid}`, `--regid=${gid}`, "--clear-groups", "--", ...argv], {
      env: { ...process.env, ...env },
      stdout: "ignore",
      stderr: "ignore",
    }).exitCode === 0;
  let argv = hotmountArgv();
  if (!as([...argv, "version"])) {
    const bin = process.env.HOTMOUNT_BIN ?? join(REPO, "dist", "hotmount");
    if (
      !existsSync(bin) &&
      Bun.spawnSync(["bun", join(REPO, "scripts", "build.ts")], { cwd: REPO, env: { ...process.env }, stdout: "ignore", stderr: "inherit" }).exitCode !== 0
    ) {
      throw new Error("could not build dist/hotmount for the non-root user");
    }
    const copy = join(env.HOME!, "hotmount");
    copyFileSync(bin, copy);
    chownSync(copy, uid, gid);
    chmodSync(copy, 0o755);
    argv = [copy];
    console.error(`uid ${uid} cannot read this checkout: it runs a copy of ${bin}`);
    if (!as([...argv, "version"])) throw new Error(`uid ${uid} cannot run ${copy}`);
  }
  argvAs.set(uid, argv);
  return argv;
}

/** Runs hotmount as host user uid:gid (setpriv), with its own env; the test runner is root. */
export async function hmAs(uid: number, gid: number, args: string[], env: Record<string, string>, timeoutMs = 300_000): Promise<RunResult> {
  const p = Bun.spawn(["setpriv", `--reuid=${uid}`, `--regid=${gid}`, "--clear-groups", "--", ...hotmountArgvAs(uid, gid, env), ...args], {
    env: { ...process.env, ...env },
    stdout: "pipe",
    stderr: "pipe",
    stdin: "ignore",
  });
  const timer = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  clearTimeout(timer);
  return { code, stdout, stderr, json: () => JSON.parse(stdout) };
}

/** One row of the ownership table: what the guest user sees and what the host gets. */
export interface OwnershipRow {
  /** Owner, as the guest shows it, of a host file the host user owns. */
  hostFileInGuest: string;
  /** Can dev append to that host file (0644, owned by the host user)? */
  devWritesHostFile: boolean;
  /** Can dev create a file in a 0755 folder the host user owns? */
  devCreatesInHostDir: boolean;
  /** Host owner of a file dev creates (in a 0777 folder, so every transport can). */
  devFileOnHost: string;
  /** Owner of that file as the guest shows it. */
  devFileInGuest: string;
  /** Can dev append to its own new file later (a new open, not the creating one)? */
  devRewritesOwnFile: boolean;
  /** Host owner of a file root creates in the guest (sudo). */
  rootFileOnHost: string;
}

const owner = (p: string) => `${statSync(p).uid}:${statSync(p).gid}`;

/** Lays out a share owned by host uid:gid: host-file (0644), and open/ (0777). */
export function ownershipFixture(dir: string, uid: number, gid: number): void {
  mkdirSync(join(dir, "open"), { recursive: true });
  writeFileSync(join(dir, "host-file"), "from the host\n");
  chmodSync(dir, 0o755);
  chmodSync(join(dir, "open"), 0o777);
  chmodSync(join(dir, "host-file"), 0o644);
  for (const p of [dir, join(dir, "open"), join(dir, "host-file")]) chownSync(p, uid, gid);
}

/** Runs the probe on a writable mount of an ownershipFixture folder. */
export async function probeOwnership(g: GuestUser, hostDir: string, mp: string): Promise<OwnershipRow> {
  const before = readFileSync(join(hostDir, "host-file"), "utf8");
  const seen = (await g.devOk(["stat", "-c", "%u:%g", `${mp}/host-file`])).trim();
  const append = await g.dev(["sh", "-c", 'echo "from dev" >> "$1"', "sh", `${mp}/host-file`]);
  const wrote = readFileSync(join(hostDir, "host-file"), "utf8") !== before;
  if ((append.code === 0) !== wrote) throw new Error(`dev's append exited ${append.code} but the host file ${wrote ? "changed" : "did not change"}`);
  // Creation only (": >"), not touch: touch also sets times, which fails on a file that is not yours.
  const create = (f: string) => ["sh", "-c", ': > "$1"', "sh", f];
  const top = await g.dev(create(`${mp}/dev-top`));
  await g.devOk(create(`${mp}/open/dev-file`));
  const again = await g.dev(["sh", "-c", 'echo again >> "$1"', "sh", `${mp}/open/dev-file`]);
  const r = await g.root(create(`${mp}/open/root-file`));
  if (r.code !== 0) throw new Error(`creating a file as root (sudo) failed: ${r.stderr}`);
  return {
    hostFileInGuest: seen,
    devWritesHostFile: wrote,
    devCreatesInHostDir: top.code === 0,
    devFileOnHost: owner(join(hostDir, "open", "dev-file")),
    devFileInGuest: (await g.devOk(["stat", "-c", "%u:%g", `${mp}/open/dev-file`])).trim(),
    devRewritesOwnFile: again.code === 0 && readFileSync(join(hostDir, "open", "dev-file"), "utf8") === "again\n",
    rootFileOnHost: owner(join(hostDir, "open", "root-file")),
  };
}

/**
 * Host edits on a writable mount (append, create, mkdir, rename, delete) and a read-only one
 * (append) wake inotifywait as dev with the events docs/watch.md promises; the guest's own write
 * is not replayed back to it (no second CLOSE_WRITE, no ATTRIB after a later host edit shows).
 */
export async function hostEditsWakeWatchers(g: GuestUser, m: { host: string; mp: string; ro: string; mpRo: string }): Promise<void> {
  const { host, mp, ro, mpRo } = m;
  const w = await g.watch(mp);
  const wRo = await g.watch(mpRo);
  try {
    const written = ["CLOSE_WRITE", "ATTRIB", "MODIFY"];
    const folder = ["ATTRIB", "OPEN", "ACCESS", "CLOSE_NOWRITE"];
    let from = w.lines.length;
    appendFileSync(join(host, "a"), "2\n");
    await w.expect(from, `${mp}/a`, written);
    from = w.lines.length;
    writeFileSync(join(host, "made"), "new\n");
    await w.expect(from, `${mp}/made`, written);
    from = w.lines.length;
    mkdirSync(join(host, "sub"));
    await w.expect(from, `${mp}/sub`, folder);
    from = w.lines.length;
    renameSync(join(host, "made"), join(host, "renamed"));
    await w.expect(from, `${mp}/renamed`, written);
    from = w.lines.length;
    rmSync(join(host, "renamed"));
    await w.expect(from, `${mp}/`, folder);
    expect((await g.devOk(["ls", mp])).split("\n").filter(Boolean).sort()).toEqual(["a", "sub"]);

    const ownFrom = w.lines.length;
    await g.devOk(["sh", "-c", 'echo guest > "$1/by-guest"', "sh", mp]);
    await w.expect(ownFrom, `${mp}/by-guest`, ["CLOSE_WRITE"]);
    const marker = w.lines.length;
    appendFileSync(join(host, "a"), "3\n"); // a later host edit: its replay has come when this shows
    await w.expect(marker, `${mp}/a`, written);
    expect(w.lines.slice(ownFrom).filter((l) => l.endsWith(`${mp}/by-guest`) && l.startsWith("ATTRIB"))).toEqual([]);
    expect(w.lines.slice(ownFrom).filter((l) => l.endsWith(`${mp}/by-guest`) && l.includes("CLOSE_WRITE")).length).toBe(1);

    from = wRo.lines.length;
    appendFileSync(join(ro, "a"), "2\n");
    await wRo.expect(from, `${mpRo}/a`, ["OPEN", "ACCESS", "CLOSE_NOWRITE"]);
    expect(wRo.lines.slice(from).filter((l) => /ATTRIB|CLOSE_WRITE|MODIFY/.test(l.split(" ")[0]!))).toEqual([]);
  } finally {
    await w.close();
    await wRo.close();
  }
}
