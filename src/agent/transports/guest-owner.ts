// Whose files a share shows as: the guest's login user when it is not root (docs/ownership.md).
// Root guests keep the host's numeric owners as they are.
import type { GuestOwner } from "../../core/mount-options.ts";
import type { GuestCommands } from "../../guest-exec/index.ts";

/** Parses `id USER`: "uid=1000(dev) gid=1000(dev) groups=...". */
export function parseId(text: string): GuestOwner | null {
  const m = /uid=(\d+)\S*\s+gid=(\d+)/.exec(text);
  return m ? { uid: Number(m[1]), gid: Number(m[2]) } : null;
}

/** The uid/gid of `user` in the guest, or undefined for root (or a user the guest does not know). */
export async function guestOwner(guest: GuestCommands, user: string): Promise<GuestOwner | undefined> {
  if (user === "root") return undefined;
  const r = await guest.exec(["id", "--", user], { root: false, timeoutMs: 10_000 });
  const o = r.code === 0 ? parseId(r.stdout) : null;
  return o && o.uid !== 0 ? o : undefined;
}
