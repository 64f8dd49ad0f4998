// hotmount's state directory holds the agent sockets, the SSH key and the instance configs (the
// kernel a VM boots, the command lines of its backends). Another user who can write there could
// plant any of them, so every process that reads state refuses a directory that is group- or
// world-writable or owned by someone else. The root is resolved here, and checked once per
// process on its first use, so every command that reads state, and the agent, checks it without
// having to remember to; `vm start` runs the check again after creating the directory
// (client/home.ts). Every other name under the root is in paths.ts.
import { lstatSync, readdirSync, realpathSync, type Stats } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { HotmountError } from "./errors.ts";

const checkedHomes = new Set<string>();

/**
 * State root: one directory per instance, the SSH key, the agent sockets. The first use in a
 * process refuses a root other users could write to (checkStateDir below).
 */
export function hotmountHome(): string {
  const home = process.env.HOTMOUNT_HOME || join(homedir(), ".hotmount");
  if (!checkedHomes.has(home)) {
    checkStateDir(home, [join(home, "instances"), join(home, "ssh")], join(home, "instances"));
    checkedHomes.add(home);
  }
  return home;
}

/** One folder per instance (its sockets, config, logs); the check walks each. */
export function instancesDir(): string {
  return join(hotmountHome(), "instances");
}

/** The SSH key hotmount makes for its guests. */
export function sshDir(): string {
  return join(hotmountHome(), "ssh");
}

function statOrNull(p: string): Stats | null {
  try {
    return lstatSync(p);
  } catch {
    return null;
  }
}

/** Refuses `dir` (when it exists) if others may write to it or it is not ours (or root's). */
export function checkPrivateDir(dir: string, uid = process.getuid?.() ?? -1): void {
  const st = statOrNull(dir);
  if (!st) return;
  if (st.isSymbolicLink()) {
    // A symlink could be swapped under us; the real folder has to be named.
    throw new HotmountError("PERMISSION_DENIED", `hotmount's state folder ${dir} is a symlink`, {
      hint: `hotmount makes its folders itself: remove the link (rm ${dir}) or replace it with a real folder.`,
      details: { path: dir },
    });
  }
  if (uid >= 0 && st.uid !== uid && st.uid !== 0) {
    throw new HotmountError("PERMISSION_DENIED", `hotmount's state folder ${dir} belongs to uid ${st.uid}, not to you (uid ${uid})`, {
      hint: `Use your own HOTMOUNT_HOME, or take it over: chown -R ${uid} ${dir}`,
      details: { path: dir, owner: st.uid },
    });
  }
  if (st.mode & 0o022) {
    const who = st.mode & 0o002 ? "everyone" : "its group";
    throw new HotmountError("PERMISSION_DENIED", `hotmount's state folder ${dir} is writable by ${who} (mode ${(st.mode & 0o7777).toString(8)})`, {
      hint: `Run: chmod go-w ${dir}`,
      details: { path: dir, mode: st.mode & 0o7777 },
    });
  }
}

/**
 * Checks the state root, its direct sub-folders and each instance folder under `instancesDir`
 * (where the agent sockets live). HOTMOUNT_HOME itself may be a symlink (the user chose it; its
 * target is checked); everything below it must be a plain folder.
 */
export function checkStateDir(home: string, subdirs: readonly string[], instancesDir: string): void {
  if (!statOrNull(home)) return;
  checkPrivateDir(realpathSync(home));
  for (const d of subdirs) checkPrivateDir(d);
  let names: string[] = [];
  try {
    names = readdirSync(instancesDir);
  } catch {
    return;
  }
  for (const n of names) {
    const p = join(instancesDir, n);
    const st = statOrNull(p);
    if (st?.isDirectory() || st?.isSymbolicLink()) checkPrivateDir(p);
  }
}
