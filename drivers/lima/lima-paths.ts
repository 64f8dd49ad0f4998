// The names of Lima's own files, which the Lima driver reads: $LIMA_HOME and what Lima writes in
// an instance's folder there. They are Lima's choice, from its source: lima-vm/lima
// pkg/limatype/filenames/filenames.go and pkg/limatype/dirnames/dirnames.go (Lima v2). The files
// hotmount itself keeps for a Lima instance (its link, the wrapper's marker, the shims) are named
// in src/core/paths.ts with the rest of hotmount's, in the usual instance folder, so the QEMU
// driver's session, 9p slots and virtiofsd sockets work unchanged.
import { existsSync, realpathSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

/** $LIMA_HOME, default ~/.lima; Lima resolves symlinks in it, and so do we. */
export function limaHome(): string {
  const dir = process.env.LIMA_HOME || join(homedir(), ".lima");
  try {
    return existsSync(dir) ? realpathSync(dir) : dir;
  } catch {
    return dir;
  }
}

/** Files under $LIMA_HOME/<instance> that hotmount reads (Lima writes them). */
export const LIMA_FILES = {
  yaml: "lima.yaml",
  version: "lima-version",
  sshConfig: "ssh.config",
  haPid: "ha.pid",
} as const;

/** Lima writes the VM's pid to `<vmType>.pid` (filenames.PIDFile): qemu.pid for QEMU. */
export function vmPidFile(limaDir: string, vmType: string): string {
  return join(limaDir, `${vmType}.pid`);
}

/** Entries of $LIMA_HOME that are not instances start with "_" (_config, _disks, _networks, ...). */
export const isLimaReservedName = (n: string) => n.startsWith("_");
