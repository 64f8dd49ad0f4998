// `hotmount doctor`: what this host can do, and why not.
import type { Command } from "commander";
import { printJson, runAction, table } from "../output.ts";

interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export function register(program: Command): void {
  program
    .command("doctor")
    .description("check this host: QEMU, usable KVM, virtiofsd flavour, sftp-server, shared memory")
    .option("--json", "print the checks as JSON")
    .option("--probe", "re-run the KVM probe boot instead of using its cached verdict")
    .action((o) =>
      runAction(o.json, async () => {
        const checks = await runChecks(!!o.probe);
        if (o.json) return printJson({ ok: checks.every((c) => c.ok || c.name === "kvm" || c.name === "virtiofsd-sandbox"), checks });
        process.stdout.write(
          table(
            ["CHECK", "OK", "DETAIL"],
            checks.map((c) => [c.name, c.ok ? "yes" : "no", c.detail]),
          ),
        );
      }),
    );
}

async function runChecks(reprobe: boolean): Promise<Check[]> {
  const { chooseAccel, findVirtiofsd, kvmUsable, qemuBinary, qemuVersion } = await import("../../../drivers/index.ts");
  const { findSftpServer } = await import("../../agent/transports/reverse-sshfs.ts");
  const { sftpConfinement } = await import("../../agent/transports/sftp-jail.ts");
  const { accelCachePath } = await import("../../core/paths.ts");
  const { rmSync } = await import("node:fs");
  const checks: Check[] = [];
  let qemu: string | null = null;
  try {
    qemu = qemuBinary();
    checks.push({ name: "qemu", ok: true, detail: `${qemu} (${qemuVersion(qemu)})` });
  } catch (e) {
    checks.push({ name: "qemu", ok: false, detail: (e as Error).message });
  }
  if (qemu && kvmUsable()) {
    if (reprobe) rmSync(accelCachePath(), { force: true });
    const a = await chooseAccel(qemu, "auto");
    checks.push({ name: "kvm", ok: a.accel === "kvm", detail: a.accel === "kvm" ? a.reason : `VMs use TCG: ${a.reason}` });
  } else {
    checks.push({ name: "kvm", ok: false, detail: "/dev/kvm is missing or not accessible: VMs use TCG (slower)" });
  }
  const v = findVirtiofsd();
  checks.push({
    name: "virtiofsd",
    ok: !!v,
    detail: v
      ? `${v.path} (${v.flavour === "c" ? "C, from QEMU ≤ 7.2: root only, read-only via a read-only bind mount" : "Rust"}; ${v.version}); chosen: ${v.why}`
      : "not found: virtiofs unavailable (install virtiofsd or qemu-system-x86)",
  });
  if (v?.flavour === "rust") {
    const { rustSandbox } = await import("../../../drivers/index.ts");
    const sb = rustSandbox();
    checks.push({ name: "virtiofsd-sandbox", ok: sb.mode !== "none", detail: sb.detail });
  }
  const sftp = findSftpServer();
  checks.push({
    name: "sftp-server",
    ok: !!sftp,
    detail: sftp ? `${sftp}; ${sftpConfinement().detail}` : "not found: reverse-sshfs unavailable (apt-get install openssh-sftp-server)",
  });
  const memfd = process.platform === "linux";
  checks.push({ name: "memfd", ok: memfd, detail: memfd ? "memory-backend-memfd,share=on is available (Linux)" : "not Linux: no memfd backend" });
  const watches = await import("../../agent/watch/host-watcher.ts").then((m) => m.maxUserWatches());
  checks.push({
    name: "inotify",
    // Informational: a low limit degrades watching (mount list warns), it never breaks a mount.
    ok: true,
    detail:
      watches === null
        ? "no inotify limit to read (not Linux): host changes are replayed in the guest where the OS watcher allows"
        : `fs.inotify.max_user_watches = ${watches}: each watched host folder takes one${watches < 65536 ? "; low for big trees, raise it with sysctl fs.inotify.max_user_watches=524288" : ""}`,
  });
  const keygen = Bun.which("ssh-keygen");
  checks.push({ name: "ssh-keygen", ok: !!keygen, detail: keygen ?? "not found (apt-get install openssh-client)" });
  return checks;
}
