// Crash injection for the recovery tests: `HOTMOUNT_FAILPOINT=add:attached` makes the agent
// SIGKILL itself when it reaches that step, exactly as `kill -9` would. Unset, it costs nothing.
export const FAILPOINTS = [
  "add:journaled",
  "plug:virtiofsd",
  "plug:chardev",
  "add:attached",
  "add:mounted",
  "remove:journaled",
  "remove:unmounted",
  "unplug:deleted",
  "remove:detached",
  "restore:begun",
  "rebuild:detached",
] as const;
export type Failpoint = (typeof FAILPOINTS)[number];

export function failpoint(name: Failpoint): void {
  if (process.env.HOTMOUNT_FAILPOINT === name) process.kill(process.pid, "SIGKILL");
}
