// The SSH key pair of one HOTMOUNT_HOME: generated on first use, never committed, 0600.
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { HotmountError } from "./errors.ts";
import { sshDir, sshKeyPath } from "./paths.ts";

export function ensureSshKey(): { privateKey: string; publicKeyLine: string } {
  const key = sshKeyPath();
  if (!existsSync(key)) {
    mkdirSync(sshDir(), { recursive: true, mode: 0o700 });
    const r = Bun.spawnSync(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "hotmount", "-f", key], { stderr: "pipe", stdout: "pipe" });
    if (!r.success) {
      throw new HotmountError("HOST_DEPENDENCY_MISSING", "could not create the SSH key with ssh-keygen", {
        hint: "Install OpenSSH's client (Debian: apt-get install openssh-client).",
        cause: r.stderr?.toString(),
      });
    }
  }
  return { privateKey: key, publicKeyLine: readFileSync(`${key}.pub`, "utf8").trim() };
}
