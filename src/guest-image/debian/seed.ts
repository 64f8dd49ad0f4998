// The cloud-init NoCloud seed of one instance: user-data and meta-data on an ISO with volume id
// "cidata". The user-data is JSON after the #cloud-config line (JSON is YAML, and needs no quoting rules).
import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { READY_MARKER } from "../contract.ts";
import { requireTool, runTool } from "./exec.ts";

/** The non-root user hotmount logs into a disk-image guest as. */
export const IMAGE_GUEST_USER = "dev";

export interface SeedInput {
  instanceId: string;
  hostname: string;
  user: string;
  publicKeyLine: string;
}

export function userData(s: SeedInput): string {
  const cfg = {
    users: [
      {
        name: s.user,
        groups: ["sudo"],
        shell: "/bin/bash",
        lock_passwd: true,
        // hotmount runs mount/umount through `sudo -n`: it must never wait for a password.
        sudo: "ALL=(ALL) NOPASSWD:ALL",
        ssh_authorized_keys: [s.publicKeyLine],
      },
    ],
    ssh_pwauth: false,
    // RSA host key generation alone takes ~12 s under TCG; the host does not pin host keys anyway.
    ssh_genkeytypes: ["ed25519"],
    // Else sudo says "unable to resolve host" on every command.
    manage_etc_hosts: "localhost",
    // The boot-complete signal the QEMU driver waits for (drivers/qemu/lifecycle.ts). final_message runs
    // at the end of every boot (runcmd would only run on the first), after users and keys are set,
    // and cloud-final's output goes to the serial console.
    final_message: READY_MARKER,
  };
  return `#cloud-config\n${JSON.stringify(cfg, null, 2)}\n`;
}

export function metaData(s: SeedInput): string {
  return `${JSON.stringify({ "instance-id": s.instanceId, "local-hostname": s.hostname }, null, 2)}\n`;
}

/** Writes the seed ISO at `iso` (atomically: a rename), using `dir` for its two files. */
export async function writeSeedIso(iso: string, dir: string, s: SeedInput): Promise<void> {
  const genisoimage = requireTool("genisoimage");
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(join(dir, "user-data"), userData(s), { mode: 0o600 });
  writeFileSync(join(dir, "meta-data"), metaData(s), { mode: 0o600 });
  const tmp = `${iso}.tmp`;
  await runTool([genisoimage, "-quiet", "-output", tmp, "-volid", "cidata", "-joliet", "-rock", join(dir, "user-data"), join(dir, "meta-data")]);
  renameSync(tmp, iso);
}
