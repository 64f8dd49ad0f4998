// What a test file may leave behind: nothing. A process is ours when its argv or its environment
// names the test HOTMOUNT_HOME (QEMU, virtiofsd, sftp-server and agents all inherit it).
import { readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cmdlineOf, findProcesses } from "../../src/util/process.ts";

function environOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/environ`, "utf8");
  } catch {
    return "";
  }
}

export function ourProcesses(home = process.env.HOTMOUNT_TEST_HOME!): { pid: number; argv: string }[] {
  const kinds = /qemu-system|virtiofsd|sftp-server|main\.ts|hotmount/;
  return findProcesses((argv) => kinds.test(argv.join(" ")))
    .filter((pid) => cmdlineOf(pid).some((a) => a.includes(home)) || environOf(pid).split("\0").includes(`HOTMOUNT_HOME=${home}`))
    .map((pid) => ({ pid, argv: cmdlineOf(pid).join(" ") }));
}

// Everything in the run's temp folder (test/preload.ts points TMPDIR at one per run) is a test
// file's own scratch; the run's HOTMOUNT_TEST_HOME is exempt (it outlives each file).
export function tempEntries(dir = tmpdir()): Set<string> {
  try {
    return new Set(readdirSync(dir).map((n) => join(dir, n)));
  } catch {
    return new Set();
  }
}

/** What appeared in the temp folder since `before` and is still there (not the run's home). */
export function leftoverTempEntries(before: Set<string>, dir = tmpdir()): string[] {
  const home = process.env.HOTMOUNT_TEST_HOME;
  return [...tempEntries(dir)].filter((p) => !before.has(p) && p !== home).sort();
}
