// hotmount's state directory holds the agent sockets, the SSH key and the instance configs (the
// kernel a VM boots, the command lines of its backends). Another user who can write there could
// plant any of them, so every process that reads state refuses a directory that is group- or
// world-writable or owned by someone else. paths.ts runs the check once per process, on the
// first use of the state directory; `vm start` runs it again after creating the directory.
import { lstatSync, readdirSync, realpathSync, type Stats } from "node:fs";
import { join } from "node:path";
import { HotmountError } from "./errors.ts";

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
