// Which sandbox the Rust virtiofsd runs in. As root it is the namespace sandbox (private mount,
// pid and net namespaces, pivot_root into the share). Without root, the same sandbox needs a
// user namespace: virtiofsd makes one itself and maps only its own uid and gid into it, so it
// stays that user, with no power over other users' files, and can still pivot_root into the
// share. Only where the kernel refuses unprivileged user namespaces does it run unsandboxed
// (`--sandbox none`): it can then reach every host file its user can, and doctor and the agent
// log say so.
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";

export type RustSandbox = "namespace" | "none";
export interface SandboxChoice {
  mode: RustSandbox;
  /** One line for doctor and the log. */
  detail: string;
}

let usernsOk: boolean | undefined;

/**
 * Whether this process may make a user namespace with the namespaces virtiofsd's sandbox makes
 * (mount, pid, net) and mount in it. The mount is over the temp folder, inside the probe's own
 * private namespace: the host never sees it.
 */
export function unprivilegedUserNamespaces(): boolean {
  if (usernsOk !== undefined) return usernsOk;
  const r = spawnSync(
    "unshare",
    [
      "--user",
      "--map-root-user",
      "--mount",
      "--pid",
      "--net",
      "--fork",
      "--propagation",
      "private",
      "--",
      "mount",
      "-t",
      "tmpfs",
      "-o",
      "size=4k",
      "hotmount-probe",
      tmpdir(),
    ],
    { timeout: 10_000 },
  );
  usernsOk = r.status === 0;
  return usernsOk;
}

/** `uid` is this process's; a test passes another, `userns` stands in for the kernel probe. */
export function rustSandbox(uid = process.getuid?.() ?? 0, userns: () => boolean = unprivilegedUserNamespaces): SandboxChoice {
  if (uid === 0) return { mode: "namespace", detail: "sandboxed: namespace (mount, pid, net namespaces; pivot_root into the share)" };
  if (userns()) {
    return { mode: "namespace", detail: "sandboxed: namespace in its own user namespace (only this user's uid/gid mapped; pivot_root into the share)" };
  }
  return {
    mode: "none",
    detail: "NOT sandboxed (--sandbox none): this kernel refuses unprivileged user namespaces, so virtiofsd can reach every file this user can",
  };
}
