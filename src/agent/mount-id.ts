// A new mount's id: "hm" and 8 random hex digits. It names the mount's device, chardev, backend
// and tag too, which is how reconcile and the drivers tell what is ours (core/validate.ts:
// isMountId checks the same shape).
import { randomBytes } from "node:crypto";

export function newMountId(): string {
  return `hm${randomBytes(4).toString("hex")}`;
}
