// The state directory, made on first use and refused when other users could write to it.
import { mkdirSync } from "node:fs";
import { hotmountHome, instancesDir, sshDir } from "../core/paths.ts";
import { checkStateDir } from "../core/state-dir.ts";

/** Creates the state directory, then refuses it if other users could write to it (see core/state-dir.ts). */
export function ensureHome(): void {
  const home = hotmountHome();
  mkdirSync(home, { recursive: true, mode: 0o700 });
  // hotmountHome() checked it before it existed; check what is there now.
  checkStateDir(home, [instancesDir(), sshDir()], instancesDir());
}
