// The eventfds a vhost-user backend shares with QEMU (per virtqueue: kick, call, error), found by
// their kernel id (fdinfo "eventfd-id", Linux ≥ 5.18), and a way to signal QEMU's copy of them.
// Used for one thing: when a virtiofsd dies, its requests are answered in guest memory
// (vring-reaper.ts) and QEMU must then raise the queue's interrupt. QEMU has no command for that;
// its "call" eventfd does it (QEMU or KVM turns a write into the guest interrupt). The dead
// backend's copy is gone, so the ids are noted while it lives; QEMU's own copy is borrowed with
// pidfd_getfd (Linux ≥ 5.6, needs ptrace rights over QEMU: root, or the same user without Yama).
import { closeSync, readdirSync, readFileSync, readlinkSync, writeSync } from "node:fs";

/** eventfd ids per fd of a process (Linux /proc); empty when it is gone or unreadable. */
export function eventfdsOf(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  let fds: string[] = [];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return out;
  }
  for (const fd of fds) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`) !== "anon_inode:[eventfd]") continue;
      const m = /eventfd-id:\s*(\d+)/.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, "utf8"));
      if (m) out.set(Number(fd), Number(m[1]));
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

/** The eventfd ids a set of processes (one virtiofsd, maybe two with its sandbox parent) hold. */
export function eventfdIds(pids: number[]): number[] {
  const ids = new Set<number>();
  for (const pid of pids) for (const id of eventfdsOf(pid).values()) ids.add(id);
  return [...ids].sort((a, b) => a - b);
}

/**
 * QEMU's eventfds that no other process holds. The fallback when the dead backend's ids were never
 * noted (it died before the first note, or while no agent ran): it includes the dead device's
 * notifiers, and otherwise only QEMU-internal ones, for which an extra signal is a spurious wake-up
 * (virtio drivers and QEMU's handlers re-check their rings). Live backends' eventfds are left out.
 */
export function unsharedEventfdIds(qemuPid: number): number[] {
  const mine = eventfdsOf(qemuPid);
  const others = new Set<number>();
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e) || Number(e) === qemuPid) continue;
    for (const id of eventfdsOf(Number(e)).values()) others.add(id);
  }
  return [...new Set(mine.values())].filter((id) => !others.has(id));
}

type Syscall = (nr: number, a: number, b: number, c: number) => number | bigint;
let syscallFn: Syscall | null | undefined;

/** libc's syscall(2) through bun:ffi, loaded on first use (Linux only). */
async function libcSyscall(): Promise<Syscall | null> {
  if (syscallFn !== undefined) return syscallFn;
  syscallFn = null;
  if (process.platform !== "linux") return null;
  const { dlopen, FFIType } = await import("bun:ffi");
  for (const lib of ["libc.so.6", "libc.so"]) {
    try {
      const l = dlopen(lib, { syscall: { args: [FFIType.i64, FFIType.i64, FFIType.i64, FFIType.i64], returns: FFIType.i64 } });
      syscallFn = (nr, a, b, c) => l.symbols.syscall(nr, a, b, c);
      break;
    } catch {
      // try the next name (musl)
    }
  }
  return syscallFn;
}

// Same numbers on every Linux architecture since the syscall table was unified (5.1+).
const SYS_PIDFD_OPEN = 434;
const SYS_PIDFD_GETFD = 438;

/**
 * Writes 1 to each of QEMU's eventfds whose id is in `ids`. Returns how many were signalled;
 * throws with the reason when QEMU's fds cannot be borrowed.
 */
export async function signalQemuEventfds(qemuPid: number, ids: Iterable<number>): Promise<number> {
  const want = new Set(ids);
  const targets = [...eventfdsOf(qemuPid)].filter(([, id]) => want.has(id)).map(([fd]) => fd);
  if (!targets.length) return 0;
  const sys = await libcSyscall();
  if (!sys) throw new Error("no syscall(2) here (needs Linux and bun:ffi)");
  const pidfd = Number(sys(SYS_PIDFD_OPEN, qemuPid, 0, 0));
  if (pidfd < 0) throw new Error(`pidfd_open(${qemuPid}) failed`);
  const one = Buffer.alloc(8);
  one.writeBigUInt64LE(1n);
  let n = 0;
  try {
    for (const target of targets) {
      const fd = Number(sys(SYS_PIDFD_GETFD, pidfd, target, 0));
      if (fd < 0) throw new Error("pidfd_getfd on QEMU was refused (it needs root, or ptrace rights over QEMU)");
      try {
        writeSync(fd, one);
        n++;
      } finally {
        closeSync(fd);
      }
    }
  } finally {
    closeSync(pidfd);
  }
  return n;
}
