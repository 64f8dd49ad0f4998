// The directories a QEMU VM with hot-plug capacity needs before it starts: ours (`vm start`) and
// one wrapped for Lima or `hotmount run` alike.
import { mkdirSync, rmSync, symlinkSync } from "node:fs";
import { HotmountError } from "../../src/core/errors.ts";
import { instancePaths, ninePEmptyDir, ninePSlotLink, ninePSlotOwner, UNIX_PATH_MAX } from "../../src/core/paths.ts";

/** Makes the instance, virtiofsd, 9p and sshfs dirs and resets the 9p slot links; returns the links. */
export function prepareInstanceDirs(name: string, ninePSlots: number): string[] {
  const p = instancePaths(name);
  if (p.dir.includes(",")) {
    throw new HotmountError("INVALID_ARGUMENT", `the instance directory ${p.dir} contains a comma, which QEMU options cannot carry`, {
      hint: "Set HOTMOUNT_HOME to a path without commas.",
    });
  }
  if (Buffer.byteLength(p.agentSock) > UNIX_PATH_MAX || Buffer.byteLength(p.qmpSock) > UNIX_PATH_MAX) {
    throw new HotmountError("INVALID_ARGUMENT", `the instance directory ${p.dir} is too long for a unix socket path`, {
      hint: "Set HOTMOUNT_HOME to a shorter path.",
    });
  }
  for (const d of [p.dir, p.virtiofsdDir, p.ninePDir, p.sshfsDir]) mkdirSync(d, { recursive: true, mode: 0o700 });
  // Reserved 9p fsdevs point at symlinks; until a mount retargets one, it shows an empty dir.
  const empty = ninePEmptyDir(name);
  mkdirSync(empty, { recursive: true, mode: 0o700 });
  const links: string[] = [];
  for (let i = 0; i < ninePSlots; i++) {
    const link = ninePSlotLink(name, i);
    rmSync(link, { force: true });
    rmSync(ninePSlotOwner(name, i), { force: true }); // a fresh VM has nothing plugged
    symlinkSync(empty, link);
    links.push(link);
  }
  return links;
}

/** The hotmount side of a QEMU someone else launches (Lima, `hotmount run`): the dirs, and no stale QMP socket. */
export function prepareWrapDirs(name: string, ninePSlots: number): string[] {
  const links = prepareInstanceDirs(name, ninePSlots);
  rmSync(instancePaths(name).qmpSock, { force: true });
  return links;
}
