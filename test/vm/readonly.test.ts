// Read-only against guest root: for each transport, guest root remounts a read-only
// mount read-write and still cannot change the host folder. For reverse-sshfs, guest root also
// speaks SFTP itself on the mount's channel (stops sshfs and writes requests into its pipe): it
// can neither write through a read-only share nor reach host files outside the shared folder.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sftpLaunch } from "../../src/agent/transports/sftp-jail.ts";
import { findSftpServer } from "../../src/agent/transports/reverse-sshfs.ts";
import { sftpServerArgs } from "../../src/core/mount-options.ts";
import { joinArgv } from "../../src/core/shell-quote.ts";
import { hmOk } from "../helpers/cli.ts";
import { useVm } from "../helpers/vm.ts";

const NAME = "ro";
const vm = useVm(NAME, ["--memory", "384M"]);
const TRANSPORTS = ["virtiofs", "9p", "reverse-sshfs"] as const;
let root: string;
let secret: string;
const SECRET = `host-secret-${Math.random().toString(36).slice(2)}`;

beforeAll(() => {
  root = mkdtempSync(`${tmpdir()}/hmt-ro-`);
  // A host file outside every shared folder, which no guest may read.
  mkdirSync(join(root, "outside"));
  secret = join(root, "outside", "secret.txt");
  writeFileSync(secret, SECRET);
  chmodSync(secret, 0o600);
});
afterAll(() => root && rmSync(root, { recursive: true, force: true }));

/** A share with a file, a sub-folder and two symlinks that point out of it on the host. */
function share(name: string): string {
  const d = join(root, name);
  mkdirSync(join(d, "sub"), { recursive: true });
  writeFileSync(join(d, "keep.txt"), "keep");
  writeFileSync(join(d, "sub", "inner.txt"), "inner");
  symlinkSync(secret, join(d, "leak-abs"));
  symlinkSync("../outside/secret.txt", join(d, "leak-rel"));
  return d;
}

/** Every entry under d: type, mode, size, content hash, link target, mtime. */
function snapshot(d: string): string {
  const out: string[] = [];
  const walk = (p: string) => {
    for (const n of readdirSync(p).sort()) {
      const f = join(p, n);
      const st = lstatSync(f);
      const what = st.isSymbolicLink() ? `-> ${readlinkSync(f)}` : st.isFile() ? createHash("sha256").update(readFileSync(f)).digest("hex") : "dir";
      out.push(`${f.slice(d.length)} ${st.mode.toString(8)} ${st.uid}:${st.gid} ${st.size} ${st.mtimeMs} ${what}`);
      if (st.isDirectory()) walk(f);
    }
  };
  walk(d);
  return out.join("\n");
}

// Guest root's own SFTP client: stops the mount's sshfs, writes requests into the pipe sshfs
// sends on (fd 1) and reads replies from the pipe it receives on (fd 0), then lets sshfs go on.
// $1 read|write, $2 path as sent to the host's sftp-server, $3 data to write, $4 sshfs pid.
// Prints DATA:<content>, WROTE, or REFUSED <request> status=<SSH_FX code>.
const RAW_SFTP = `op=$1 path=$2 data=$3 P=$4
kill -STOP "$P"; trap 'kill -CONT "$P"' EXIT
be32() { printf "\\\\$(printf %03o $((($1>>24)&255)))\\\\$(printf %03o $((($1>>16)&255)))\\\\$(printf %03o $((($1>>8)&255)))\\\\$(printf %03o $(($1&255)))"; }
recv() { L=$((0x$(timeout 10 dd bs=1 count=4 2>/dev/null <&4 | xxd -p))); timeout 10 dd bs=1 count="$L" 2>/dev/null <&4 | xxd -p | tr -d '\\n'; }
# The reply to request $1; a reply left over from an earlier exchange (our CLOSE) is skipped.
reply() { while :; do r=$(recv); [ -n "$r" ] || return; [ "$(echo "$r" | cut -c3-10)" = "$(printf %08x "$1")" ] && { echo "$r"; return; }; done; }
status() { echo "REFUSED $1 status=$((0x$(echo "$2" | cut -c11-18)))"; }
exec 3>"/proc/$P/fd/1" 4<"/proc/$P/fd/0"
if [ "$op" = read ]; then fl=1; else fl=26; fi
{ be32 $((13+\${#path}+4)); printf '\\003'; be32 7000001; be32 \${#path}; printf %s "$path"; be32 $fl; be32 0; } >&3
r=$(reply 7000001)
case $r in 66*) ;; 65*) status open "$r"; exit 0;; *) echo "BAD $r"; exit 1;; esac
hl=$((0x$(echo "$r" | cut -c11-18)))
h=$(echo "$r" | cut -c19-$((18+2*hl)))
if [ "$op" = read ]; then
  { be32 $((9+hl+12)); printf '\\005'; be32 7000002; be32 $hl; echo "$h" | xxd -r -p; be32 0; be32 0; be32 4096; } >&3
  r=$(reply 7000002)
  case $r in 67*) printf DATA:; echo "$r" | cut -c19- | xxd -r -p; echo;; *) status read "$r";; esac
else
  { be32 $((9+hl+8+4+\${#data})); printf '\\006'; be32 7000002; be32 $hl; echo "$h" | xxd -r -p; be32 0; be32 0; be32 \${#data}; printf %s "$data"; } >&3
  r=$(reply 7000002)
  case $r in 65*) if [ "$(echo "$r" | cut -c11-18)" = 00000000 ]; then echo WROTE; else status write "$r"; fi;; *) echo "BAD $r";; esac
fi
{ be32 $((9+hl)); printf '\\004'; be32 7000003; be32 $hl; echo "$h" | xxd -r -p; } >&3
recv >/dev/null`;

async function rawSftp(op: "read" | "write", path: string, data = ""): Promise<string> {
  const pids = (await vm.run(["pidof", "sshfs"])).trim().split(/\s+/);
  expect(pids.length).toBe(1);
  return (await vm.run(["timeout", "60", "sh", "-c", RAW_SFTP, "raw-sftp", op, path, data, pids[0]!])).trim();
}

async function add(host: string, mp: string, type: string, ...flags: string[]) {
  return (await hmOk(["mount", "add", NAME, host, mp, "--type", type, "--json", ...flags])).json();
}

// Each must fail on a read-only share, whatever the guest's mount flags say.
const WRITES = [
  "echo x > $M/new.txt",
  "echo x > $M/keep.txt",
  "echo x >> $M/keep.txt",
  "rm $M/keep.txt",
  "rm -r $M/sub",
  "mkdir $M/newdir",
  "chmod 777 $M/keep.txt",
  "chown 1:1 $M/keep.txt",
  "touch $M/keep.txt",
  "mv $M/keep.txt $M/moved.txt",
  "ln -s /etc $M/link",
  "truncate -s 0 $M/keep.txt",
  "dd if=/dev/zero of=$M/sub/inner.txt bs=1 count=1 conv=notrunc",
];

describe.each(TRANSPORTS)("%s, read-only", (type) => {
  test("guest root remounts it read-write; every write still fails and the host folder is unchanged", async () => {
    const host = share(`ro-${type}`);
    const mp = `/mnt/ro-${type}`;
    const before = snapshot(host);
    const m = await add(host, mp, type);
    expect(m.writable).toBe(false);
    expect(await vm.run(["cat", `${mp}/keep.txt`])).toBe("keep");
    const remount = await vm.exec(["mount", "-o", "remount,rw", mp]);
    const opts = (await vm.run(["cat", "/proc/mounts"]))
      .split("\n")
      .find((l) => l.split(" ")[1] === mp)
      ?.split(" ")[3];
    // What guest root can do to the guest-side flag (docs/security.md quotes this).
    console.log(`${type}: guest root remount rw exit ${remount.code} (${remount.stderr.trim() || "ok"}); mount options now ${opts}`);
    for (const w of WRITES) {
      const r = await vm.exec(["sh", "-c", w.replaceAll("$M", mp)]);
      if (r.code === 0) throw new Error(`${type}: "${w}" succeeded on a read-only share`);
    }
    expect(snapshot(host)).toBe(before);
    await hmOk(["mount", "remove", NAME, m.id]);
  });

  test("symlinks in the share that point out of it on the host do not reach host files", async () => {
    const host = share(`links-${type}`);
    const mp = `/mnt/links-${type}`;
    const m = await add(host, mp, type);
    // The guest resolves them in its own tree, where the host's path does not exist.
    for (const l of ["leak-abs", "leak-rel"]) {
      const r = await vm.exec(["cat", `${mp}/${l}`]);
      expect(r.stdout).not.toContain(SECRET);
      expect(r.code).not.toBe(0);
    }
    await hmOk(["mount", "remove", NAME, m.id]);
  });
});

// The hand-made client shares sshfs's pipes while sshfs is stopped, and drops replies that are
// not its own: any other sshfs traffic then (the watch replay of its own host write, for one)
// would lose its reply and hang. So these mounts are made --no-watch.
describe("reverse-sshfs against guest root speaking SFTP itself", () => {
  test("read-only share: its files read (control), but no write, and nothing outside the share", async () => {
    const host = share("raw-ro");
    const before = snapshot(host);
    const m = await add(host, "/mnt/raw-ro", "reverse-sshfs", "--no-watch");
    // Control: the hand-made exchange works on the share itself.
    expect(await rawSftp("read", join(host, "keep.txt"))).toBe("DATA:keep");
    // -R (and the read-only bind mount in the jail) refuse writes: SSH_FX_PERMISSION_DENIED or FAILURE.
    expect(await rawSftp("write", join(host, "keep.txt"), "evil")).toMatch(/^REFUSED open status=[34]$/);
    expect(await rawSftp("write", join(host, "new.txt"), "evil")).toMatch(/^REFUSED open status=[34]$/);
    // Outside the share: the jail has no such files (SSH_FX_NO_SUCH_FILE).
    for (const p of [
      secret,
      "/etc/shadow",
      "/etc/hostname",
      "../outside/secret.txt",
      join(host, "leak-abs"),
      join(host, "leak-rel"),
      `/proc/1/root${secret}`,
    ]) {
      expect(`${p}: ${await rawSftp("read", p)}`).toBe(`${p}: REFUSED open status=2`);
    }
    expect(snapshot(host)).toBe(before);
    // sshfs carries on after its pause.
    expect(await vm.run(["cat", "/mnt/raw-ro/keep.txt"])).toBe("keep");
    await hmOk(["mount", "remove", NAME, m.id]);
  });

  test("writable share: writes inside land (control); writes outside it do not", async () => {
    const host = share("raw-rw");
    const m = await add(host, "/mnt/raw-rw", "reverse-sshfs", "--writable", "--no-watch");
    expect(await rawSftp("write", join(host, "from-raw.txt"), "inside")).toBe("WROTE");
    expect(readFileSync(join(host, "from-raw.txt"), "utf8")).toBe("inside");
    const escape = join(root, "outside", "escaped.txt");
    for (const p of [escape, "/etc/hm-escaped", "../outside/escaped.txt", "/.hotmount-sftp/sftp-server", "/etc/passwd"]) {
      expect(`${p}: ${await rawSftp("write", p, "evil")}`).toMatch(new RegExp(`^${p.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}: REFUSED open status=[234]$`));
    }
    expect(existsSync(escape)).toBe(false);
    expect(existsSync("/etc/hm-escaped")).toBe(false);
    expect(readFileSync(secret, "utf8")).toBe(SECRET);
    await hmOk(["mount", "remove", NAME, m.id]);
  });
});

describe("the sftp-server jail on the host (no guest involved)", () => {
  test("sftp-server sees the share, its own files, /dev/null and a one-line /etc/passwd: nothing else", async () => {
    const host = share("jail-view");
    const sftp = findSftpServer()!;
    const l = sftpLaunch(sftp, sftpServerArgs(host, false), host, false, join(root, "jail-root"));
    expect(l.confined).toBe(true);
    const wrapper = join(root, "jail-wrapper.sh");
    writeFileSync(wrapper, `#!/bin/sh\nexec ${joinArgv([l.command, ...l.args])}\n`, { mode: 0o700 });
    const batch = join(root, "jail-batch");
    writeFileSync(
      batch,
      [
        "ls -a /",
        "ls -a /etc",
        `ls -a ${host}`,
        `-get ${secret} ${join(root, "got1")}`,
        `-get /etc/shadow ${join(root, "got2")}`,
        `-get leak-abs ${join(root, "got3")}`,
        `get keep.txt ${join(root, "got4")}`,
      ].join("\n") + "\n",
    );
    const p = Bun.spawn(["sftp", "-b", batch, "-D", wrapper], { stdout: "pipe", stderr: "pipe" });
    const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    const top = host.split("/")[1];
    const rootList = out.split("sftp> ")[1]!.split("\n").slice(1).join(" ").split(/\s+/).filter(Boolean).sort();
    expect(rootList).toEqual(["/.", "/..", "/.hotmount-sftp", "/dev", "/etc", `/${top}`].sort());
    const etcList = out.split("sftp> ")[2]!.split("\n").slice(1).join(" ").split(/\s+/).filter(Boolean).sort();
    expect(etcList).toEqual(["/etc/.", "/etc/..", "/etc/passwd"]);
    expect(existsSync(join(root, "got1")) || existsSync(join(root, "got2")) || existsSync(join(root, "got3"))).toBe(false);
    expect(readFileSync(join(root, "got4"), "utf8")).toBe("keep");
    expect(err).toMatch(/not found|No such file/);
    // The jail's mounts live in its own namespace: the host sees none of them.
    expect(readFileSync("/proc/self/mountinfo", "utf8")).not.toContain("hotmount-sftp");
  });
  test("without root: the same jail in a user namespace; files land as that user; others' files stay out", async () => {
    const NOBODY = 65534;
    const base = mkdtempSync(`${tmpdir()}/hmt-ro-nobody-`);
    chmodSync(base, 0o755);
    const host = join(base, "share");
    mkdirSync(host);
    writeFileSync(join(host, "keep.txt"), "keep");
    // Readable by nobody but outside the share: unconfined, sftp-server would hand it out.
    const outside = join(base, "outside.txt");
    writeFileSync(outside, SECRET);
    const jail = join(base, "jail-root");
    mkdirSync(jail);
    for (const f of [host, join(host, "keep.txt"), outside, jail]) chownSync(f, NOBODY, NOBODY);
    const sftp = findSftpServer()!;
    const l = sftpLaunch(sftp, sftpServerArgs(host, true), host, true, jail, NOBODY);
    expect(l.confined).toBe(true);
    expect(l.args.slice(0, 2)).toEqual(["--user", "--map-root-user"]);
    const wrapper = join(root, "jail-wrapper-nobody.sh");
    writeFileSync(wrapper, `#!/bin/sh\nexec setpriv --reuid=${NOBODY} --regid=${NOBODY} --clear-groups -- ${joinArgv([l.command, ...l.args])}\n`, {
      mode: 0o700,
    });
    const up = join(root, "up.txt");
    writeFileSync(up, "from the guest");
    const batch = join(root, "jail-batch-nobody");
    writeFileSync(
      batch,
      [
        `-get ${outside} ${join(root, "n1")}`,
        `-get /etc/shadow ${join(root, "n2")}`,
        `get keep.txt ${join(root, "n3")}`,
        `put ${up} new.txt`,
        `-put ${up} ${join(base, "escaped.txt")}`,
      ].join("\n") + "\n",
    );
    const p = Bun.spawn(["sftp", "-b", batch, "-D", wrapper], { stdout: "pipe", stderr: "pipe" });
    const [, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    expect({ code, err: err.includes("Operation not permitted") || err.includes("not found") || err.includes("No such file") }).toEqual({ code: 0, err: true });
    expect(existsSync(join(root, "n1")) || existsSync(join(root, "n2")) || existsSync(join(base, "escaped.txt"))).toBe(false);
    expect(readFileSync(join(root, "n3"), "utf8")).toBe("keep");
    expect(readFileSync(join(host, "new.txt"), "utf8")).toBe("from the guest");
    expect(statSync(join(host, "new.txt")).uid).toBe(NOBODY);
    rmSync(base, { recursive: true, force: true });
  });
});
