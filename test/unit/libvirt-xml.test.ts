// The libvirt driver's reading of domain XML (as libvirt 9 wrote it for the test domains) and
// the `libvirt prepare` edit: what it adds, that it adds it once, and what it refuses.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseDomain, virtiofsXml, xmlDecode } from "../../drivers/libvirt/domain-xml.ts";
import { prepareXml } from "../../drivers/libvirt/prepare.ts";
import { wrapperScript } from "../../drivers/libvirt/virtiofsd-wrapper.ts";

const fixture = (n: string) => readFileSync(join(import.meta.dir, "..", "fixtures", "libvirt", n), "utf8");

describe("parseDomain", () => {
  test("a live q35 domain with one of our filesystems", () => {
    const v = parseDomain(fixture("main-live.xml"));
    expect(v.sharedMemory).toBe(true);
    expect(v.rootPorts.length).toBe(10);
    // virtio-serial (bus 1), rng (bus 2) and our filesystem (bus 3) each hold a port.
    expect(v.freeRootPorts.length).toBe(7);
    expect(v.agentChannel).toBe("connected");
    expect(v.filesystems).toEqual([expect.objectContaining({ alias: "ua-hm80f811fb", tag: "hm80f811fb", driver: "virtiofs", bus: 3 })]);
    expect(v.sshForward).toEqual({ host: "127.0.0.1", port: expect.any(Number) });
  });

  test("an inactive domain without shared memory", () => {
    const v = parseDomain(fixture("noshm-inactive.xml"));
    expect(v.sharedMemory).toBe(false);
    expect(v.freeRootPorts.length).toBe(2);
  });

  test("values are entity-decoded, and what we write is escaped", () => {
    expect(xmlDecode("a&amp;b&apos;c&#65;")).toBe("a&b'cA");
    const x = virtiofsXml({ id: "hm00000001", source: "/tmp/it's <odd> & so", binary: "/x/y.sh" });
    expect(x).toContain("<source dir='/tmp/it&apos;s &lt;odd&gt; &amp; so'/>");
    expect(parseDomain(`<domain><devices>${x}</devices></domain>`).filesystems[0]!.source).toBe("/tmp/it's <odd> & so");
  });
});

describe("prepareXml", () => {
  test("adds shared memory and the missing root ports, once", () => {
    const r = prepareXml(fixture("noshm-inactive.xml"), 8);
    expect(r.changes.length).toBe(2);
    const v = parseDomain(r.xml);
    expect(v.sharedMemory).toBe(true);
    expect(v.freeRootPorts.length).toBe(8);
    expect(prepareXml(r.xml, 8).changes).toEqual([]);
  });

  test("adds the guest-agent channel when there is none", () => {
    const noAgent = fixture("noshm-inactive.xml").replace(/<channel type='unix'>[\s\S]*?<\/channel>/, "");
    const r = prepareXml(noAgent, 2);
    expect(r.changes.some((c) => c.includes("qemu-guest-agent"))).toBe(true);
    expect(parseDomain(r.xml).agentChannel).not.toBe("absent");
  });

  test("refuses a machine without PCIe root ports (i440fx)", () => {
    expect(() => prepareXml(fixture("noshm-inactive.xml").replace(/machine='[^']*'/, "machine='pc-i440fx-7.2'"), 8)).toThrow(/not a q35 machine/);
  });
});

describe("the virtiofsd wrapper", () => {
  test("read-only C virtiofsd: a read-only bind mount in a private namespace, and no mknod", () => {
    const s = wrapperScript({
      virtiofsd: { path: "/usr/lib/qemu/virtiofsd", flavour: "c", version: "" },
      source: "/tmp/a b",
      writable: false,
      marker: "u/hm1",
      home: "/h",
    });
    expect(s).toContain("unshare --mount --propagation private");
    expect(s).toContain("remount,bind,ro");
    expect(s).toContain("'/tmp/a b'");
    expect(s).toContain("-o modcaps=-mknod");
  });

  test("Rust virtiofsd: --readonly and --modcaps", () => {
    const s = wrapperScript({
      virtiofsd: { path: "/usr/libexec/virtiofsd", flavour: "rust", version: "" },
      source: "/s",
      writable: false,
      marker: "u/hm1",
      home: "/h",
    });
    expect(s).toContain('"$@" --modcaps=-mknod --readonly');
  });
});
