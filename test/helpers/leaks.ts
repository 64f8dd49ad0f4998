// What the suite may leave behind: nothing. A process is ours when its argv or its environment
// names the test HOTMOUNT_HOME (QEMU, virtiofsd, sftp-server and agents all inherit it).
import { readFileSync } from "node:fs";
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
