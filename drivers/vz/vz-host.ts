// A VZ VM hosted by this process, and the registry of them. Only the process that created a
// VZVirtualMachine may change its devices' shares, and the VM dies with that process, so the VM,
// its spare-share table and its SSH forwarder all live here, in memory, keyed by instance name.
import type { Logger, Progress } from "../driver.ts";
import type { VzMachine } from "../../ffi/vz.ts";
import { HotmountError } from "../../src/core/errors.ts";
import { removeVzRuntime } from "./vz-runtime.ts";
import type { TcpForward } from "./vz-ssh-forward.ts";

/** Which mount holds a spare virtio-fs device. */
export interface SlotEntry {
  id: string;
  hostPath: string;
  writable: boolean;
}

export class VzHost {
  /** Index i is spare device hotmount-i; null = sharing the empty placeholder. */
  readonly slots: (SlotEntry | null)[];
  #gone = false;

  constructor(
    readonly name: string,
    readonly machine: VzMachine,
    readonly mac: string,
    public forward: TcpForward | null,
  ) {
    this.slots = Array.from({ length: machine.shareCount() }, () => null);
  }

  get gone(): boolean {
    return this.#gone;
  }

  /** Throws unless the VM is still hosted here (it may have been powered off by another session). */
  ensureAlive(): void {
    if (this.#gone) {
      throw new HotmountError("INSTANCE_NOT_RUNNING", `the VZ VM of "${this.name}" was powered off`, {
        hint: `Start it again with \`hotmount vm start ${this.name}\`.`,
      });
    }
  }

  /**
   * Bounded stop: with graceMs > 0 the guest is asked first and given that long, then VZ stops
   * the VM hard; then the handle, the forwarder and vz.json go. Every step runs even if one fails.
   */
  async shutdown(progress: Progress, graceMs: number, log?: Logger): Promise<void> {
    if (this.#gone) return;
    this.#gone = true;
    hosts.delete(this.name);
    const m = this.machine;
    const note = (step: string, e: unknown) => log?.warn(`vz: ${step} failed`, { instance: this.name, error: String(e) });
    if (graceMs > 0 && safeState(m) === "running") {
      progress("asking the guest to power off");
      try {
        m.requestStop();
        const until = Date.now() + graceMs;
        while (Date.now() < until && safeState(m) !== "stopped") await Bun.sleep(250);
      } catch (e) {
        note("request-stop", e);
      }
    }
    if (!["stopped", "error"].includes(safeState(m))) {
      progress("stopping the VM");
      try {
        m.stop();
      } catch (e) {
        note("stop", e);
      }
    }
    m.free();
    await this.forward?.close().catch((e) => note("closing the SSH forwarder", e));
    this.forward = null;
    removeVzRuntime(this.name);
  }
}

function safeState(m: VzMachine): string {
  try {
    return m.state().state;
  } catch {
    return "unknown";
  }
}

const hosts = new Map<string, VzHost>();

export function hostedVm(name: string): VzHost | undefined {
  return hosts.get(name);
}

export function registerHost(h: VzHost): void {
  if (hosts.has(h.name)) throw new HotmountError("INSTANCE_ALREADY_RUNNING", `instance "${h.name}" already runs in this process`);
  hosts.set(h.name, h);
}
