// Every on-disk name the Lima driver reads or writes. Lima's own names are from its source,
// lima-vm/lima pkg/limatype/filenames/filenames.go and pkg/limatype/dirnames/dirnames.go (Lima v2);
// hotmount's Lima-side files live in hotmount's instance dir (src/core/paths.ts) next to the
// usual ones, so the QEMU driver's session, 9p slots and virtiofsd sockets work unchanged.
import { existsSync, realpathSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { hotmountHome, instancePaths } from "../../src/core/paths.ts";

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
  qmpSock: "qmp.sock",
  haPid: "ha.pid",
  haSock: "ha.sock",
  serialLog: "serial.log",
} as const;

/** Lima writes the VM's pid to `<vmType>.pid` (filenames.PIDFile): qemu.pid for QEMU. */
export function vmPidFile(limaDir: string, vmType: string): string {
  return join(limaDir, `${vmType}.pid`);
}

/** Entries of $LIMA_HOME that are not instances start with "_" (_config, _disks, _networks, ...). */
export const isLimaReservedName = (n: string) => n.startsWith("_");

/** Which Lima instance a hotmount instance dir stands for (written on registration and by the wrapper). */
export function limaLinkPath(hmName: string): string {
  return join(instancePaths(hmName).dir, "lima.json");
}

/** What hotmount's QEMU wrapper injected into the Lima instance's running QEMU. */
export function wrapMarkerPath(hmName: string): string {
  return join(instancePaths(hmName).dir, "qemu-wrap.json");
}

/** Where `hotmount qemu-wrap --install` puts the QEMU_SYSTEM_<ARCH> executables. */
export function shimDir(): string {
  return join(hotmountHome(), "lima", "bin");
}
