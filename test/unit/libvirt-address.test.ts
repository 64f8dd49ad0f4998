// Where the libvirt driver reads a guest's SSH address when the domain has no port forward: the
// NICs of the domain XML it may take an address of, `virsh domifaddr` output (agent and lease
// sources, as libvirt 9 prints them), and the host's /proc/net/arp.
import { describe, expect, test } from "bun:test";
import { hostArpTable, parseDomifaddr, reachableMacs } from "../../drivers/libvirt/discovery.ts";

describe("the NICs an address may belong to", () => {
  test("network and bridge interfaces count; user-mode networking does not", () => {
    const xml = `<domain><devices>
    <interface type='network'>
      <mac address='52:54:00:D5:21:3A'/>
      <source network='default'/>
      <model type='virtio'/>
    </interface>
    <interface type='user'>
      <mac address='52:54:00:00:00:02'/>
    </interface>
    <interface type="bridge"><mac address="52:54:00:00:00:03"/><source bridge="br0"/></interface>
    </devices></domain>`;
    expect(reachableMacs(xml)).toEqual(["52:54:00:d5:21:3a", "52:54:00:00:00:03"]);
  });

  test("a domain whose NIC is on the QEMU command line has none", () => {
    expect(reachableMacs("<domain><devices></devices><qemu:commandline><qemu:arg value='-netdev'/></qemu:commandline></domain>")).toEqual([]);
  });
});

describe("virsh domifaddr output", () => {
  test("the guest agent: further addresses of a NIC come on lines whose name and MAC are '-'", () => {
    const out = ` Name       MAC address          Protocol     Address
-------------------------------------------------------------------------------
 lo         00:00:00:00:00:00    ipv4         127.0.0.1/8
 -          -                    ipv6         ::1/128
 eth0       52:54:00:d5:21:3a    ipv6         fe80::5054:ff:fed5:213a/64
 -          -                    ipv4         192.168.213.124/24
 eth1       52:54:00:00:00:03    ipv4         10.0.2.15/24
`;
    expect(parseDomifaddr(out)).toEqual([
      { mac: "00:00:00:00:00:00", address: "127.0.0.1" },
      { mac: "52:54:00:d5:21:3a", address: "192.168.213.124" },
      { mac: "52:54:00:00:00:03", address: "10.0.2.15" },
    ]);
  });

  test("a lease, and no lease", () => {
    expect(parseDomifaddr(" vnet0      52:54:00:d5:21:3a    ipv4         192.168.213.124/24\n")).toEqual([
      { mac: "52:54:00:d5:21:3a", address: "192.168.213.124" },
    ]);
    expect(parseDomifaddr(" Name       MAC address          Protocol     Address\n-------------------------------------\n\n")).toEqual([]);
  });
});

test("the host's ARP table: complete entries only", () => {
  const arp = `IP address       HW type     Flags       HW address            Mask     Device
192.168.213.124  0x1         0x2         52:54:00:D5:21:3A     *        hmtestbr213
192.168.213.130  0x1         0x0         00:00:00:00:00:00     *        hmtestbr213
192.0.2.1        0x1         0x6         02:fc:00:00:00:05     *        eth0
`;
  expect(hostArpTable(arp)).toEqual([
    { mac: "52:54:00:d5:21:3a", address: "192.168.213.124" },
    { mac: "02:fc:00:00:00:05", address: "192.0.2.1" },
  ]);
});
