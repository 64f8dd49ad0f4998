// Guest commands that power off a native PCIe hot-plug slot (pciehp) at once. On the aarch64
// `virt` machine an unplug request is an attention-button press, after which Linux waits 5 s before
// it powers the slot off and the hypervisor completes the unplug; writing 0 to the slot's `power`
// file has pciehp do it now. The slot is found by its address (the bus behind its root port), never
// by its name, so only the slot of the device being removed is touched.

/** Powers off the slot whose bus is `bus` (PCI domain 0); exits 3 when there is none. */
export function slotPowerOffArgv(bus: number, slots = "/sys/bus/pci/slots"): string[] {
  const addr = `0000:${bus.toString(16).padStart(2, "0")}:00`;
  return ["sh", "-c", `for s in ${slots}/*; do [ "$(cat "$s/address" 2>/dev/null)" = "${addr}" ] && echo 0 > "$s/power" && exit 0; done; exit 3`];
}

/**
 * Powers off the slot of the root port at `port` (domain 0, bus 0: "SS.F", hex), whichever bus
 * the guest numbered behind it; exits 3 when the port or its slot is not there.
 */
export function portSlotPowerOffArgv(port: { slot: number; function: number }, devices = "/sys/bus/pci/devices", slots = "/sys/bus/pci/slots"): string[] {
  const dev = `0000:00:${port.slot.toString(16).padStart(2, "0")}.${port.function}`;
  return [
    "sh",
    "-c",
    `b=$(ls "${devices}/${dev}/pci_bus" 2>/dev/null | head -1); [ -n "$b" ] || exit 3; ` +
      `for s in ${slots}/*; do [ "$(cat "$s/address" 2>/dev/null)" = "$b:00" ] && echo 0 > "$s/power" && exit 0; done; exit 3`,
  ];
}
