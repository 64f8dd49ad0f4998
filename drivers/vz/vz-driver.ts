// The VZ driver (macOS, Virtualization.framework through ffi/vz.ts).
//
// Unlike QEMU, a VZ VM is not a process of its own: it lives inside the process that created it
// and dies with it, and only that process may change its shares. So `start` boots the VM *in the
// calling process* and must be called by the process that will hold the session: the instance's
// agent (see `vmLivesInCaller` and docs/vz.md). Other processes see the VM through vz.json.
import { closeSync, mkdirSync, openSync } from "node:fs";
import type { Driver, DriverSession, Logger, Progress, RuntimeStatus, VmLifecycle } from "../driver.ts";
import { loadVz, type VzLib, type VzMachine } from "../../ffi/vz.ts";
import type { InstanceState } from "../../src/core/model.ts";
import { HotmountError, asHotmountError } from "../../src/core/errors.ts";
import { type InstanceConfig, writeInstanceConfig } from "../../src/core/instance-config.ts";
import { instancePaths, vzDylibCacheDir, vzPlaceholderDir } from "../../src/core/paths.ts";
import { terminate } from "../../src/util/process.ts";
import { VzHost, hostedVm, registerHost } from "./vz-host.ts";
import { guestIpFromLeases } from "./vz-leases.ts";
import { MACOS_DHCPD_LEASES } from "./vz-paths.ts";
import { hostAlive, processCommand, readVzRuntime, removeVzRuntime, writeVzRuntime } from "./vz-runtime.ts";
import { VzSession } from "./vz-session.ts";
import { startTcpForward, waitForSsh, type TcpForward } from "./vz-ssh-forward.ts";
import { buildVmConfig, macForInstance } from "./vz-vm-config.ts";

export interface VzDriverOptions {
  /** Loads the bridge; tests pass the Linux test double. Default: the dylib, macOS only. */
  loadLib?: () => Promise<VzLib>;
  /** bootpd's lease file; tests pass a fixture. */
  leasesFile?: string;
  /** The guest's sshd port behind the NAT (tests point it at a fake sshd). */
  guestSshPort?: number;
  /** Boot to SSH deadline. */
  bootTimeoutMs?: number;
  /** Raw disk images to attach (the InstanceConfig has no disk field yet; docs/vz.md's script uses it). */
  disks?: { path: string; readOnly: boolean }[];
}

/** How long a last-resort `stop` waits for a foreign host process after SIGTERM (then SIGKILL). */
const TERM_WAIT_MS = 5_000;

export class VzDriver implements Driver, VmLifecycle {
  readonly name = "vz";
  /**
   * The VM runs inside whichever process calls `start`, and stops when that process exits: the
   * agent must call `start` itself and then `openSession` (CLI `vm start` launches the agent).
   */
  readonly vmLivesInCaller = true;

  constructor(private readonly opts: VzDriverOptions = {}) {}

  private async lib(): Promise<VzLib> {
    if (this.opts.loadLib) return this.opts.loadLib();
    if (process.platform !== "darwin") {
      throw new HotmountError("UNSUPPORTED", "the vz driver runs on macOS only", { hint: "Use the qemu driver on this host." });
    }
    return loadVz({ extractDir: vzDylibCacheDir() });
  }

  async start(cfg: InstanceConfig, progress: Progress): Promise<RuntimeStatus> {
    if (hostedVm(cfg.name)) throw alreadyRunning(cfg.name, process.pid);
    const rt = readVzRuntime(cfg.name);
    if (rt && hostAlive(rt)) throw alreadyRunning(cfg.name, rt.pid);

    progress("loading the Virtualization.framework bridge");
    const lib = await this.lib();
    if (!lib.isSupported()) {
      throw new HotmountError("UNSUPPORTED", "Virtualization.framework cannot run VMs on this Mac", {
        hint: "VZ needs macOS 12+ and hardware virtualization; inside another VM it usually has none.",
      });
    }
    const paths = instancePaths(cfg.name);
    const placeholder = vzPlaceholderDir(cfg.name);
    mkdirSync(placeholder, { recursive: true, mode: 0o700 });
    closeSync(openSync(paths.serialLog, "a", 0o600)); // VZ appends to it; make sure it exists
    const vmCfg = buildVmConfig(cfg, { placeholder, serialLog: paths.serialLog, disks: this.opts.disks });
    const mac = macForInstance(cfg.name);

    let machine: VzMachine | null = null;
    let forward: TcpForward | null = null;
    try {
      progress("creating the VZ virtual machine");
      machine = lib.create(vmCfg);
      progress("starting the VZ virtual machine");
      machine.start();
      const record = { pid: process.pid, command: processCommand(process.pid) ?? "", mac, guestIp: null as string | null, startedAt: new Date().toISOString() };
      writeVzRuntime(cfg.name, record);

      const m = machine;
      const alive = () => assertBooting(m, cfg.name);
      const deadline = Date.now() + (this.opts.bootTimeoutMs ?? 180_000);
      progress("waiting for the guest's DHCP lease");
      const ip = await this.waitForLease(mac, deadline, alive);
      writeVzRuntime(cfg.name, { ...record, guestIp: ip });
      forward = await startTcpForward(cfg.ssh.host, cfg.ssh.port, ip, this.opts.guestSshPort ?? 22);
      if (cfg.ssh.port !== forward.port) {
        // Port 0 = "choose at start", as the QEMU driver does: the kernel picked one; record it.
        cfg.ssh.port = forward.port;
        writeInstanceConfig(cfg);
      }
      progress("waiting for SSH");
      await waitForSsh(cfg.ssh.host, cfg.ssh.port, Math.max(1000, deadline - Date.now()), alive);
      registerHost(new VzHost(cfg.name, machine, mac, forward));
      return { state: "running", pid: process.pid, accel: "vz" };
    } catch (e) {
      // Leave nothing behind: no VM, no listener, no vz.json.
      await forward?.close().catch(() => {});
      machine?.free(); // stops it first if it runs
      removeVzRuntime(cfg.name);
      const err = asHotmountError(e);
      if (err.code === "INTERNAL" || err.code === "TIMEOUT") {
        throw new HotmountError(err.code === "TIMEOUT" ? "TIMEOUT" : "VM_START_FAILED", `the VZ VM "${cfg.name}" did not come up: ${err.message}`, {
          cause: e,
          hint: err.hint ?? `See ${paths.serialLog}.`,
        });
      }
      throw err;
    }
  }

  private async waitForLease(mac: string, deadline: number, alive: () => void): Promise<string> {
    const file = this.opts.leasesFile ?? MACOS_DHCPD_LEASES;
    for (;;) {
      alive();
      const ip = guestIpFromLeases(file, mac);
      if (ip) return ip;
      if (Date.now() >= deadline) {
        throw new HotmountError("TIMEOUT", `the guest (MAC ${mac}) got no DHCP lease`, {
          hint: `Check that the guest runs a DHCP client on its virtio NIC; leases are in ${file}.`,
        });
      }
      await Bun.sleep(500);
    }
  }

  async status(cfg: InstanceConfig): Promise<RuntimeStatus> {
    const h = hostedVm(cfg.name);
    if (h) {
      let state: InstanceState = "broken";
      try {
        state = toInstanceState(h.machine.state().state);
      } catch {}
      return { state, pid: process.pid, accel: "vz" };
    }
    const rt = readVzRuntime(cfg.name);
    if (rt && hostAlive(rt)) return { state: "running", pid: rt.pid, accel: "vz" };
    return { state: "stopped", pid: null, accel: null };
  }

  async stop(cfg: InstanceConfig, progress: Progress): Promise<void> {
    const h = hostedVm(cfg.name);
    if (h) return h.shutdown(progress, 0);
    const rt = readVzRuntime(cfg.name);
    if (rt && hostAlive(rt)) {
      // The VM lives inside that process (normally the agent): ending it is the only way to stop it.
      progress(`ending process ${rt.pid}, which hosts the VZ VM`);
      await terminate(rt.pid, TERM_WAIT_MS);
      if (hostAlive(rt)) throw new HotmountError("TIMEOUT", `process ${rt.pid} hosting "${cfg.name}" did not exit`, { hint: `kill -9 ${rt.pid}` });
    }
    removeVzRuntime(cfg.name);
  }

  async openSession(cfg: InstanceConfig, log: Logger): Promise<DriverSession> {
    const h = hostedVm(cfg.name);
    if (h) return new VzSession(h, log);
    const rt = readVzRuntime(cfg.name);
    if (rt && hostAlive(rt)) {
      throw new HotmountError("UNSUPPORTED", `the VZ VM of "${cfg.name}" runs inside process ${rt.pid}; only that process can control it`, {
        hint: "With the vz driver the agent must start the VM itself (see docs/vz.md).",
      });
    }
    throw new HotmountError("INSTANCE_NOT_RUNNING", `instance "${cfg.name}" is not running`, {
      hint: `Start it with \`hotmount vm start ${cfg.name}\`.`,
    });
  }
}

function alreadyRunning(name: string, pid: number): HotmountError {
  return new HotmountError("INSTANCE_ALREADY_RUNNING", `instance "${name}" already runs (VZ, in process ${pid})`);
}

function assertBooting(m: VzMachine, name: string): void {
  const { state, reason } = m.state();
  if (state === "stopped" || state === "error") {
    throw new HotmountError("VM_START_FAILED", `the VZ VM "${name}" stopped while booting${reason ? `: ${reason}` : ""}`, {
      hint: `See ${instancePaths(name).serialLog}.`,
    });
  }
}

export function toInstanceState(s: string): InstanceState {
  switch (s) {
    case "running":
    case "paused":
      return "running";
    case "starting":
    case "resuming":
      return "starting";
    case "stopping":
    case "pausing":
      return "stopping";
    case "stopped":
      return "stopped";
    default:
      return "broken";
  }
}

export function createVzDriver(opts: VzDriverOptions = {}): VzDriver {
  return new VzDriver(opts);
}
