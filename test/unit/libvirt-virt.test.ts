// `libvirt prepare` on an aarch64 virt domain (as libvirt writes one: <type arch='aarch64'
// machine='virt-7.2'>, UEFI loader, pcie-root-port controllers): accepted like q35, and the same
// additions are made; and what the fast unplug on virt reads from it (the architecture, where a
// root port sits). test/vm/libvirt-arm.test.ts runs a live aarch64 domain.
import { expect, test } from "bun:test";
import { domainArch, parseDomain, rootPortAddress } from "../../drivers/libvirt/domain-xml.ts";
import { prepareXml } from "../../drivers/libvirt/prepare.ts";

const domain = (machine: string) => `<domain type='qemu'>
  <name>arm-lv</name>
  <uuid>6d1b6c59-4a8e-4d8c-9a55-2f7c2b9e0a11</uuid>
  <memory unit='KiB'>1048576</memory>
  <currentMemory unit='KiB'>1048576</currentMemory>
  <vcpu placement='static'>2</vcpu>
  <os firmware='efi'>
    <type arch='aarch64' machine='${machine}'>hvm</type>
    <loader readonly='yes' type='pflash'>/usr/share/AAVMF/AAVMF_CODE.fd</loader>
    <nvram template='/usr/share/AAVMF/AAVMF_VARS.fd'>/var/lib/libvirt/qemu/nvram/arm-lv_VARS.fd</nvram>
  </os>
  <features>
    <acpi/>
    <gic version='2'/>
  </features>
  <cpu mode='custom' match='exact' check='none'>
    <model fallback='forbid'>cortex-a57</model>
  </cpu>
  <devices>
    <emulator>/usr/bin/qemu-system-aarch64</emulator>
    <controller type='pci' index='0' model='pcie-root'/>
    <controller type='pci' index='1' model='pcie-root-port'>
      <model name='pcie-root-port'/>
      <target chassis='1' port='0x8'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x0' multifunction='on'/>
    </controller>
    <controller type='pci' index='2' model='pcie-root-port'>
      <model name='pcie-root-port'/>
      <target chassis='2' port='0x9'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x1'/>
    </controller>
    <interface type='user'>
      <model type='virtio'/>
      <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>
    </interface>
    <serial type='pty'>
      <target type='system-serial' port='0'>
        <model name='pl011'/>
      </target>
    </serial>
  </devices>
</domain>
`;

test("an aarch64 virt domain is accepted: memfd shared memory, root ports and the agent channel are added", () => {
  for (const machine of ["virt", "virt-7.2"]) {
    const r = prepareXml(domain(machine), 4);
    expect(r.changes.length).toBe(3);
    const v = parseDomain(r.xml);
    expect(v.machine).toBe(machine);
    expect(v.sharedMemory).toBe(true);
    // One of the two existing ports holds the NIC: 1 free + 3 added = 4.
    expect(v.freeRootPorts.length).toBe(4);
    expect(v.agentChannel).not.toBe("absent");
    // Idempotent.
    expect(prepareXml(r.xml, 4).changes).toEqual([]);
  }
});

test("other machines are still refused, naming both PCIe machine types", () => {
  expect(() => prepareXml(domain("raspi3b"), 4)).toThrow(/not a q35 machine nor an aarch64 virt one/);
  expect(() => prepareXml(domain("virtual"), 4)).toThrow(/not a q35 machine nor an aarch64 virt one/);
});

test("the architecture and each root port's own address on the root bus", () => {
  const xml = domain("virt-7.2");
  expect(domainArch(xml)).toBe("aarch64");
  expect(rootPortAddress(xml, 1)).toEqual({ slot: 1, function: 0 });
  expect(rootPortAddress(xml, 2)).toEqual({ slot: 1, function: 1 });
  // Not a root port (the root complex), or no such index.
  expect(rootPortAddress(xml, 0)).toBeNull();
  expect(rootPortAddress(xml, 7)).toBeNull();
});
