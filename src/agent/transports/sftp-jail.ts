// Confines the host's sftp-server to the shared folder.
//
// sftp-server's -d only sets the folder it starts in. Guest root can speak SFTP on the channel
// itself (stop the guest's sshfs, write requests into its stdout pipe, read its stdin) and open
// any host path the server's user can: /etc/shadow, when the agent runs as root. So on Linux as
// root, sftp-server runs in a private mount namespace, chrooted into an empty tmpfs (read-only
// once built) that holds only:
//   - the shared folder, bind-mounted at its host path (read-only too unless writable),
//   - /.hotmount-sftp/: read-only bind mounts of sftp-server, its dynamic loader and libraries
//     (the loader is run by name, so nothing else of the host's /lib is needed),
//   - /dev/null (sftp-server opens it at start) and a one-line /etc/passwd (it looks itself up).
// Without root, the same jail is built inside a user namespace where the agent's user is root
// (`unshare --user --map-root-user`): files are still created as that user, and the namespace's
// root has no power over files of other host users. Where the kernel refuses unprivileged user
// namespaces (or off Linux), sftp-server runs unconfined, and the mount's log says so.
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename } from "node:path";
import { HotmountError } from "../../core/errors.ts";

/** Inside the jail; a share at this path would collide, so it is refused. */
export const JAIL_BIN_DIR = "/.hotmount-sftp";

// Constant script: user paths reach it only as positional arguments, never inside the string.
// $1 jail root (an empty folder), $2 shared folder, $3 ro|rw, $4 passwd line, then the files to
// bind into $JAIL_BIN_DIR, "--", then the command to run inside.
const JAIL_SCRIPT = `set -eu
root=$1 share=$2 mode=$3 pw=$4
shift 4
mount -t tmpfs -o mode=0755,size=64k hotmount-sftp "$root"
mkdir -p "$root/etc" "$root/dev" "$root${JAIL_BIN_DIR}" "$root$share"
printf '%s\\n' "$pw" > "$root/etc/passwd"
: > "$root/dev/null"
mount --bind /dev/null "$root/dev/null"
while [ "$1" != -- ]; do
  t="$root${JAIL_BIN_DIR}/\${1##*/}"
  : > "$t"
  mount --bind -- "$1" "$t"
  mount -o remount,bind,ro -- "$t"
  shift
done
shift
mount --bind -- "$share" "$root$share"
if [ "$mode" = ro ]; then mount -o remount,bind,ro -- "$root$share"; fi
mount -o remount,bind,ro -- "$root"
exec chroot -- "$root" "$@"`;

export interface SftpLaunch {
  command: string;
  args: string[];
  /** false: sftp-server can reach every host file its user can (see `why`). */
  confined: boolean;
  why?: string;
}

interface Linked {
  loader: string | null;
  libs: string[];
}

const linkCache = new Map<string, Linked>();

/** The loader and libraries of a dynamic executable, from ldd; null when ldd cannot tell. */
export function linkedFiles(binary: string): Linked | null {
  const hit = linkCache.get(binary);
  if (hit) return hit;
  const r = spawnSync("ldd", [binary], { encoding: "utf8", timeout: 10_000 });
  if (r.error) return null;
  if (r.status !== 0) return /not a dynamic executable|statically linked/.test(`${r.stdout}${r.stderr}`) ? { loader: null, libs: [] } : null;
  const out: Linked = { loader: null, libs: [] };
  for (const line of r.stdout.split("\n")) {
    const t = line.trim();
    if (t.includes("not found")) return null;
    const lib = /=>\s+(\/\S+)\s+\(/.exec(t);
    if (lib) {
      if (!out.libs.includes(lib[1]!)) out.libs.push(lib[1]!);
      continue;
    }
    const loader = /^(\/\S+)\s+\(/.exec(t);
    if (loader) out.loader = loader[1]!;
  }
  // musl lists its loader as the libc too; glibc lists it separately.
  out.libs = out.libs.filter((l) => l !== out.loader);
  linkCache.set(binary, out);
  return out;
}

const USERNS = ["--user", "--map-root-user"];
let usernsOk: boolean | undefined;

/**
 * Whether this (non-root) process may make a user namespace and mount a tmpfs in it. The probe
 * mounts over the temp folder inside its own private namespace: the host never sees it.
 */
function canJailInUserNamespace(): boolean {
  if (usernsOk !== undefined) return usernsOk;
  const r = spawnSync(
    "unshare",
    [...USERNS, "--mount", "--propagation", "private", "--", "mount", "-t", "tmpfs", "-o", "size=4k", "hotmount-probe", tmpdir()],
    { timeout: 10_000 },
  );
  usernsOk = r.status === 0;
  return usernsOk;
}

/** How reverse-sshfs's sftp-server would be confined here, in words (`hotmount doctor`). */
export function sftpConfinement(): { confined: boolean; detail: string } {
  if (process.platform !== "linux") return { confined: false, detail: "unconfined (not Linux: no mount namespaces)" };
  if (process.getuid?.() === 0) return { confined: true, detail: "jailed to the share (private mount namespace, chroot)" };
  return canJailInUserNamespace()
    ? { confined: true, detail: "jailed to the share (user namespace, chroot)" }
    : { confined: false, detail: "unconfined: this kernel refuses unprivileged user namespaces" };
}

/**
 * How to start sftp-server for one share: jailed when this process may build the jail, as is
 * otherwise. `jailRoot` is an empty folder the jail's tmpfs is mounted on (in the private
 * namespace only: the host never sees that mount). `uid` is this process's (a test passes another).
 */
export function sftpLaunch(sftp: string, args: string[], hostPath: string, writable: boolean, jailRoot: string, uid = process.getuid?.() ?? -1): SftpLaunch {
  const plain = (why: string): SftpLaunch => ({ command: sftp, args, confined: false, why });
  if (process.platform !== "linux") return plain("not Linux: no mount namespaces");
  const userns = uid !== 0;
  if (userns && !canJailInUserNamespace()) {
    return plain(
      "the agent is not root and this kernel refuses it a user namespace (unshare --user failed): it cannot make a private mount namespace and chroot",
    );
  }
  if (hostPath === JAIL_BIN_DIR || hostPath.startsWith(`${JAIL_BIN_DIR}/`)) {
    throw new HotmountError("INVALID_ARGUMENT", `cannot share ${hostPath} over reverse-sshfs: the sftp-server jail uses that path`, {
      hint: "Share another folder, or use --type virtiofs or 9p.",
    });
  }
  const linked = linkedFiles(sftp);
  if (!linked) {
    throw new HotmountError("HOST_DEPENDENCY_MISSING", `cannot tell which libraries ${sftp} needs (ldd failed)`, {
      hint: "Install ldd (Debian: libc-bin), or use --type virtiofs or 9p.",
    });
  }
  const files = [...(linked.loader ? [linked.loader] : []), ...linked.libs, sftp];
  const names = files.map((f) => basename(f));
  if (new Set(names).size !== names.length) {
    throw new HotmountError("HOST_DEPENDENCY_MISSING", `${sftp} needs two libraries with the same file name; hotmount cannot jail it`, {
      hint: "Use --type virtiofs or 9p, or report this host's ldd output.",
    });
  }
  mkdirSync(jailRoot, { recursive: true, mode: 0o700 });
  const inside = `${JAIL_BIN_DIR}/${basename(sftp)}`;
  const run = linked.loader ? [`${JAIL_BIN_DIR}/${basename(linked.loader)}`, "--library-path", JAIL_BIN_DIR, inside] : [inside];
  return {
    command: "unshare",
    args: [
      ...(userns ? USERNS : []),
      "--mount",
      "--propagation",
      "private",
      "--",
      "sh",
      "-c",
      JAIL_SCRIPT,
      "hotmount-sftp-jail",
      jailRoot,
      hostPath,
      writable ? "rw" : "ro",
      "root:x:0:0:root:/:/nonexistent",
      ...files,
      "--",
      ...run,
      ...args,
    ],
    confined: true,
  };
}
