// Which spare root port holds which device. Rebuilt from QEMU's own view (query-pci) whenever a
// session opens, so an agent restart never double-books a slot.
import { HotmountError } from "../../src/core/errors.ts";
import { rootPortId } from "./argv-build.ts";

interface PciDevice {
  qdev_id?: string;
  pci_bridge?: { devices?: PciDevice[] };
}

export class SlotAllocator {
  private readonly holder = new Map<string, string>();

  constructor(readonly total: number) {}

  get used(): number {
    return this.holder.size;
  }

  /** Reads which root ports already have a device behind them. */
  loadFromQueryPci(buses: { devices?: PciDevice[] }[]): void {
    this.holder.clear();
    const ports = new Set(Array.from({ length: this.total }, (_, i) => rootPortId(i)));
    for (const bus of buses) {
      for (const d of bus.devices ?? []) {
        if (!d.qdev_id || !ports.has(d.qdev_id)) continue;
        const child = d.pci_bridge?.devices?.[0];
        if (child) this.holder.set(d.qdev_id, child.qdev_id ?? "(unnamed)");
      }
    }
  }

  take(id: string): string {
    for (let i = 0; i < this.total; i++) {
      const slot = rootPortId(i);
      if (!this.holder.has(slot)) {
        this.holder.set(slot, id);
        return slot;
      }
    }
    throw new HotmountError("NO_FREE_SLOT", `all ${this.total} hot-plug slots are in use`, {
      hint: `Remove a mount, or restart the VM with more: \`hotmount vm stop NAME && hotmount vm start NAME --slots ${Math.min(32, this.total * 2)}\` (up to 32). reverse-sshfs needs no slot.`,
    });
  }

  release(slot: string): void {
    this.holder.delete(slot);
  }

  slotOf(id: string): string | null {
    for (const [slot, holder] of this.holder) if (holder === id) return slot;
    return null;
  }
}
