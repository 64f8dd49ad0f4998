// virtiofs in qemu:///session: the daemon-version gate (libvirt >= 10 with the Rust virtiofsd and
// newuidmap), the <idmap> from /etc/subuid and /etc/subgid, and the <filesystem> that carries it.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseDomain, virtiofsXml } from "../../drivers/libvirt/domain-xml.ts";
import { isSessionUri, parseDaemonVersion, sessionVirtiofsProblem, subRange, userIdMap } from "../../drivers/libvirt/session-virtiofs.ts";

const rust = { path: "/usr/libexec/virtiofsd", flavour: "rust" as const, version: "1.13.2" };

describe("session virtiofs gate", () => {
  test("the daemon's version from virsh version --daemon", () => {
    const out =
      "Compiled against library: libvirt 11.3.0\nUsing library: libvirt 11.3.0\nUsing API: QEMU 11.3.0\nRunning hypervisor: QEMU 10.0.2\nRunning against daemon: 11.3.0\n";
    expect(parseDaemonVersion(out)).toBe(11_003_000);
    expect(parseDaemonVersion("Running against daemon: 9.0.0")).toBe(9_000_000);
    expect(parseDaemonVersion("Using library: libvirt 11.3.0")).toBeNull();
  });

  test("session URIs", () => {
    expect(isSessionUri("qemu:///session")).toBe(true);
    expect(isSessionUri("qemu+ssh://host/session")).toBe(true);
    expect(isSessionUri("qemu:///system")).toBe(false);
    expect(isSessionUri("qemu:///sessionx")).toBe(false);
  });

  test("libvirt 9 refuses with why; 10 and later need the Rust virtiofsd", () => {
    expect(sessionVirtiofsProblem(9_000_000, rust)).toContain("libvirt 9.0.0 runs virtiofsd only for qemu:///system domains");
    expect(sessionVirtiofsProblem(null, rust)).toContain("could not ask");
    expect(sessionVirtiofsProblem(10_000_000, null)).toContain("not installed");
    expect(sessionVirtiofsProblem(11_003_000, { ...rust, flavour: "c" })).toContain("must be the Rust one");
  });
});

describe("session idmap", () => {
  test("subordinate ranges by name or id", () => {
    const text = "alice:100000:65536\n1001:200000:1000\nbad line\n";
    expect(subRange(text, ["alice", 1000])).toEqual({ start: 100000, count: 65536 });
    expect(subRange(text, ["bob", 1001])).toEqual({ start: 200000, count: 1000 });
    expect(subRange(text, ["carol", 1002])).toBeNull();
  });

  test("the user as 0, its range from 1; without a range only the user", () => {
    const etc = mkdtempSync(join(tmpdir(), "hm-etc-"));
    try {
      writeFileSync(join(etc, "passwd"), "alice:x:1000:1000::/home/alice:/bin/sh\n");
      writeFileSync(join(etc, "group"), "alice:x:1000:\n");
      writeFileSync(join(etc, "subuid"), "alice:100000:65536\n");
      writeFileSync(join(etc, "subgid"), "alice:300000:65536\n");
      expect(userIdMap(1000, 1000, etc)).toEqual({
        uid: [
          { start: 0, target: 1000, count: 1 },
          { start: 1, target: 100000, count: 65536 },
        ],
        gid: [
          { start: 0, target: 1000, count: 1 },
          { start: 1, target: 300000, count: 65536 },
        ],
      });
      expect(userIdMap(2000, 2000, etc)).toEqual({ uid: [{ start: 0, target: 2000, count: 1 }], gid: [{ start: 0, target: 2000, count: 1 }] });
    } finally {
      rmSync(etc, { recursive: true, force: true });
    }
  });

  test("the <filesystem> carries the idmap; a system one has none", () => {
    const idmap = { uid: [{ start: 0, target: 1000, count: 1 }], gid: [{ start: 0, target: 1000, count: 1 }] };
    const x = virtiofsXml({ id: "hm00000001", source: "/s", binary: "/b.sh", idmap });
    expect(x).toContain("<idmap>\n    <uid start='0' target='1000' count='1'/>\n    <gid start='0' target='1000' count='1'/>\n  </idmap>");
    expect(parseDomain(`<domain><devices>${x}</devices></domain>`).filesystems[0]).toMatchObject({ alias: "ua-hm00000001", tag: "hm00000001" });
    expect(virtiofsXml({ id: "hm00000001", source: "/s", binary: "/b.sh" })).not.toContain("idmap");
  });
});
