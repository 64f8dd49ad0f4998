// Chooses KVM or TCG. /dev/kvm opening is not proof that KVM can run a guest (nested "PVM" KVM
// here cannot boot a stock kernel), so "auto" boots the demo guest once with a deadline and
// caches the verdict per QEMU version and host kernel.
import { accessSync, constants, mkdtempSync, readFileSync } from "node:fs";
import { release } from "node:os";
import { writeJsonAtomic } from "../../src/core/instance-config.ts";
import { accelCachePath, kvmProbeSerialLog, kvmProbeTempPrefix } from "../../src/core/paths.ts";
import { READY_MARKER, demoGuestAppend } from "../../src/guest-image/contract.ts";
import { ensureDemoGuest } from "../../src/guest-image/demo-guest.ts";
import { type GuestArch, hostGuestArch } from "../../src/guest-image/arch.ts";
import { HotmountError } from "../../src/core/errors.ts";
import { removeQuietly, sleep } from "../../src/util/process.ts";
import { cpuArgs, headlessArgs, kernelBootArgs, machineArgs, sizeArgs } from "./argv-build.ts";
import { qemuVersion } from "./host-tools.ts";

export interface AccelChoice {
  accel: "kvm" | "tcg";
  reason: string;
}

const PROBE_DEADLINE_MS = 20_000;

export function kvmUsable(): boolean {
  try {
    accessSync("/dev/kvm", constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** `arch` defaults to the host's own (doctor asks about the host's guests). */
export async function chooseAccel(qemu: string, want: "auto" | "kvm" | "tcg", arch?: GuestArch): Promise<AccelChoice> {
  if (want === "tcg") return { accel: "tcg", reason: "asked for TCG" };
  // KVM runs only guests of the host's own architecture.
  let host: GuestArch | null = null;
  try {
    host = hostGuestArch();
  } catch {}
  if (arch !== undefined && arch !== host) {
    if (want === "kvm")
      throw new HotmountError("UNSUPPORTED", `KVM cannot run a ${arch} guest on a ${process.arch} host`, { hint: "Use --accel tcg (or auto)." });
    return { accel: "tcg", reason: `an ${arch} guest on an ${process.arch} host` };
  }
  if (want === "kvm") return { accel: "kvm", reason: "asked for KVM" };
  if (process.env.HOTMOUNT_ACCEL === "tcg" || process.env.HOTMOUNT_ACCEL === "kvm") {
    return { accel: process.env.HOTMOUNT_ACCEL, reason: "HOTMOUNT_ACCEL" };
  }
  if (!kvmUsable()) return { accel: "tcg", reason: "/dev/kvm is missing or not accessible" };
  const key = `${qemuVersion(qemu)}|${release()}`;
  try {
    const c = JSON.parse(readFileSync(accelCachePath(), "utf8"));
    if (c.key === key && (c.accel === "kvm" || c.accel === "tcg")) return { accel: c.accel, reason: `${c.reason} (cached)` };
  } catch {}
  const ok = await probeKvm(qemu);
  const choice: AccelChoice = ok.ok ? { accel: "kvm", reason: "a KVM probe boot succeeded" } : { accel: "tcg", reason: `a KVM probe boot failed: ${ok.why}` };
  writeJsonAtomic(accelCachePath(), { key, ...choice, at: new Date().toISOString() }, 0o644);
  return choice;
}

/**
 * The probe's command line: the VM's own parts (argv-build.ts) and nothing a boot test does not
 * need (no shared memory, root ports, network or channels). On x86 QEMU's default machine is
 * enough to see KVM run a kernel; virt has no default and takes the host's GIC under KVM.
 */
export function kvmProbeArgv(qemu: string, arch: GuestArch, guest: { kernel: string; initrd: string }, serialLog: string): string[] {
  return [
    qemu,
    ...(arch === "aarch64" ? machineArgs(arch, ["gic-version=host"]) : []),
    ...cpuArgs("kvm", arch),
    ...sizeArgs(1, 256),
    ...headlessArgs(),
    "-no-reboot",
    ...kernelBootArgs({ ...guest, append: demoGuestAppend("ssh-ed25519 AAAA probe", "hotmount.probe=1", arch), serialLog }),
  ];
}

/** Boots the demo guest under KVM with hotmount.probe=1: it prints the marker and powers off. */
export async function probeKvm(qemu: string): Promise<{ ok: boolean; why: string }> {
  const arch = hostGuestArch();
  const guest = await ensureDemoGuest({ arch });
  const dir = mkdtempSync(kvmProbeTempPrefix());
  const log = kvmProbeSerialLog(dir);
  const argv = kvmProbeArgv(qemu, arch, guest, log);
  const p = Bun.spawn(argv, { stdout: "ignore", stderr: "pipe" });
  const end = Date.now() + PROBE_DEADLINE_MS;
  try {
    while (Date.now() < end) {
      let text = "";
      try {
        text = readFileSync(log, "utf8");
      } catch {}
      if (text.includes(READY_MARKER)) return { ok: true, why: "" };
      if (p.exitCode !== null) {
        const err = (await new Response(p.stderr).text()).trim().split("\n").pop() ?? "";
        return { ok: false, why: `QEMU exited (${p.exitCode}) ${err}`.trim() };
      }
      await sleep(100);
    }
    return { ok: false, why: `no boot within ${PROBE_DEADLINE_MS / 1000} s` };
  } finally {
    p.kill("SIGKILL");
    await p.exited;
    removeQuietly(dir);
  }
}
