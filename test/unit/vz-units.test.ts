// The VZ driver's pure parts, which do not need a Mac: the lease file parser that finds the guest,
// the per-instance MAC, the InstanceConfig -> VM JSON mapping, and the SSH forwarder and wait.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toInstanceState } from "../../drivers/vz/vz-driver.ts";
import { guestIpFromLeases, normalizeMac, parseDhcpdLeases } from "../../drivers/vz/vz-leases.ts";
import { startTcpForward, waitForSsh } from "../../drivers/vz/vz-ssh-forward.ts";
import { buildVmConfig, macForInstance, vzCmdline } from "../../drivers/vz/vz-vm-config.ts";
import { InstanceConfig } from "../../src/core/instance-config.ts";

const dir = mkdtempSync(join(tmpdir(), "hm-vz-units-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const LEASES = `{
\tname=old
\tip_address=192.168.64.2
\thw_address=1,2:a:b:c:d:e
\tidentifier=1,2:a:b:c:d:e
\tlease=0x65000000
}
{
\tname=debian
\tip_address=192.168.64.7
\thw_address=1,2:a:b:c:d:e
\tidentifier=ff,f1:2:3
\tlease=0x66000000
}
{
\tname=other
\tip_address=192.168.64.3
\thw_address=1,5e:e4:a:9b:c8:1
\tlease=0x66000001
}
{
\tname=broken
\tip_address=not-an-ip
\thw_address=1,aa:bb:cc:dd:ee:ff
}
`;

describe("bootpd lease file", () => {
  test("MACs compare octet by octet (bootpd drops leading zeros)", () => {
    expect(normalizeMac("2:a:b:c:d:e")).toBe("02:0a:0b:0c:0d:0e");
    expect(normalizeMac("02:0A:0B:0C:0D:0E")).toBe("02:0a:0b:0c:0d:0e");
    expect(normalizeMac("02:0a:0b:0c:0d")).toBeNull();
    expect(normalizeMac("zz:0a:0b:0c:0d:0e")).toBeNull();
  });

  test("parses blocks, skips malformed ones, newest lease for a MAC wins", () => {
    const all = parseDhcpdLeases(LEASES);
    expect(all.map((l) => l.ip)).toEqual(["192.168.64.2", "192.168.64.7", "192.168.64.3"]);
    const f = join(dir, "dhcpd_leases");
    writeFileSync(f, LEASES);
    expect(guestIpFromLeases(f, "02:0a:0b:0c:0d:0e")).toBe("192.168.64.7");
    expect(guestIpFromLeases(f, "5e:e4:0a:9b:c8:01")).toBe("192.168.64.3");
    expect(guestIpFromLeases(f, "02:00:00:00:00:00")).toBeNull();
    expect(guestIpFromLeases(join(dir, "missing"), "02:0a:0b:0c:0d:0e")).toBeNull();
  });
});

describe("VM config from an InstanceConfig", () => {
  const cfg = InstanceConfig.parse({
    name: "dev-1",
    driver: "vz",
    memoryMiB: 1024,
    cpus: 2,
    slots: 6,
    kernel: "/img/Image",
    append: "root=/dev/vda console=ttyS0",
    ssh: { host: "127.0.0.1", port: 2222, user: "dev", identityFile: "/k" },
    staticMounts: [{ hostPath: "/src", mountPoint: "/mnt/src", tag: "src" }],
  });

  test("a stable, locally administered unicast MAC per instance", () => {
    const mac = macForInstance("dev-1");
    expect(mac).toBe(macForInstance("dev-1"));
    expect(mac).not.toBe(macForInstance("dev-2"));
    expect(mac).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    const first = Number.parseInt(mac.slice(0, 2), 16);
    expect(first & 0x01).toBe(0); // unicast
    expect(first & 0x02).toBe(2); // locally administered
  });

  test("console=hvc0 is added once", () => {
    expect(vzCmdline("root=/dev/vda console=ttyS0")).toBe("root=/dev/vda console=ttyS0 console=hvc0");
    expect(vzCmdline("console=hvc0 quiet")).toBe("console=hvc0 quiet");
    expect(vzCmdline("")).toBe("console=hvc0");
  });

  test("slots become spare shares; static mounts keep their tags; no initrd key when none", () => {
    const v = buildVmConfig(cfg, { placeholder: "/p", serialLog: "/s.log" });
    expect(v).toEqual({
      cpus: 2,
      memoryMiB: 1024,
      boot: { kind: "linux", kernel: "/img/Image", cmdline: "root=/dev/vda console=ttyS0 console=hvc0" },
      disks: [],
      network: { mac: macForInstance("dev-1") },
      serialLog: "/s.log",
      vsock: true,
      placeholder: "/p",
      spareShares: 6,
      staticShares: [{ tag: "src", path: "/src", readOnly: false }],
    });
    const withInitrd = buildVmConfig({ ...cfg, initrd: "/img/initrd" }, { placeholder: "/p", serialLog: "/s", disks: [{ path: "/d.raw", readOnly: false }] });
    expect(withInitrd.boot).toEqual({ kind: "linux", kernel: "/img/Image", initrd: "/img/initrd", cmdline: "root=/dev/vda console=ttyS0 console=hvc0" });
    expect(withInitrd.disks).toEqual([{ path: "/d.raw", readOnly: false }]);
  });

  test("VZ states map onto instance states", () => {
    expect(["running", "paused", "starting", "resuming", "stopping", "pausing", "stopped", "error", "unknown"].map(toInstanceState)).toEqual([
      "running",
      "running",
      "starting",
      "starting",
      "stopping",
      "stopping",
      "stopped",
      "broken",
      "broken",
    ]);
  });
});

describe("SSH forwarder", () => {
  function listen(onConn: Parameters<typeof createServer>[1]): Promise<Server> {
    return new Promise((resolve) => {
      const s = createServer(onConn);
      s.listen(0, "127.0.0.1", () => resolve(s));
    });
  }
  const portOf = (s: Server) => (s.address() as { port: number }).port;

  test("bytes go both ways; close() drops open connections and frees the port", async () => {
    const echo = await listen((c) => {
      c.write("SSH-2.0-echo\r\n");
      c.pipe(c);
    });
    const fwd = await startTcpForward("127.0.0.1", 0, "127.0.0.1", portOf(echo));
    const client = connect(fwd.port, "127.0.0.1");
    let got = "";
    client.on("data", (d) => (got += d.toString()));
    await new Promise((r) => client.once("connect", r));
    client.write("ping from host\n");
    for (let i = 0; i < 50 && !got.includes("ping from host"); i++) await Bun.sleep(20);
    expect(got).toBe("SSH-2.0-echo\r\nping from host\n");
    expect(await waitForSsh("127.0.0.1", fwd.port, 2000, () => {})).toBe("SSH-2.0-echo");

    const closed = new Promise((r) => client.once("close", r));
    await fwd.close();
    await closed;
    const again = await startTcpForward("127.0.0.1", fwd.port, "127.0.0.1", portOf(echo));
    await again.close();
    echo.close();
  });

  test("a taken port is a VM_START_FAILED with a hint", async () => {
    const taken = await listen(() => {});
    const e = await startTcpForward("127.0.0.1", portOf(taken), "127.0.0.1", 1).catch((x) => x);
    expect(e.code).toBe("VM_START_FAILED");
    expect(e.message).toContain("EADDRINUSE");
    taken.close();
  });

  test("waitForSsh: a non-SSH server times out; a dead guest aborts at once", async () => {
    const http = await listen((c) => c.end("HTTP/1.0 400 nope\r\n"));
    const t = await waitForSsh("127.0.0.1", portOf(http), 700, () => {}).catch((x) => x);
    expect(t.code).toBe("TIMEOUT");
    const dead = await waitForSsh("127.0.0.1", portOf(http), 10_000, () => {
      throw new Error("guest died");
    }).catch((x) => x);
    expect(dead.message).toBe("guest died");
    http.close();
  });
});
