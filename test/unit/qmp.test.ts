// QMP client tests: framing against a fake QMP server (a node:net server in this process),
// then the real thing against paused QEMU 7.2 processes, all killed in afterAll.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  LineDecoder,
  QmpClient,
  QmpConnectError,
  QmpDisconnectedError,
  QmpExecuteError,
  QmpNegotiationError,
  QmpTimeoutError,
  chardevAdd,
  chardevRemove,
  deviceAdd,
  deviceDel,
  findPciDevice,
  isDeviceDeleted,
  qomList,
  queryChardev,
  queryMemdev,
  queryPci,
  queryStatus,
  queryVersion,
  type QmpEvent,
} from "../../src/qmp/index.ts";
import { HotmountError } from "../../src/core/errors.ts";
import { until } from "../helpers/wait.ts";

const dir = mkdtempSync(join(tmpdir(), "hm-qmp-"));
const GREETING = { QMP: { version: { qemu: { micro: 0, minor: 2, major: 7 }, package: "fake" }, capabilities: ["oob"] } };
// Resolves with the error a promise rejects with; fails the test if it resolves instead.
const rejection = (p: Promise<unknown>): Promise<any> =>
  p.then(
    (v) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(v)}`);
    },
    (e) => e,
  );
const line = (o: unknown) => JSON.stringify(o) + "\r\n"; // QEMU ends lines with CRLF

// ---- fake QMP server: handshake built in, then `reply` decides what each command gets ----
type Reply = (cmd: { execute: string; id?: unknown; arguments?: unknown }, s: Socket) => void;
async function fakeQmp(name: string, reply: Reply, greet: (s: Socket) => void = (s) => s.write(line(GREETING))) {
  const path = join(dir, name);
  const server: Server = createServer((s) => {
    const dec = new LineDecoder();
    greet(s);
    s.on("data", (chunk) => {
      for (const l of dec.push(chunk)) {
        const cmd = JSON.parse(l);
        if (cmd.execute === "qmp_capabilities") s.write(line({ return: {}, id: cmd.id }));
        else reply(cmd, s);
      }
    });
    s.on("error", () => {});
  });
  await new Promise<void>((r) => server.listen(path, r));
  return { path, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe("framing (fake server)", () => {
  test("LineDecoder: split, merged, CRLF, blank lines and UTF-8 cut mid-character", () => {
    const d = new LineDecoder();
    const bytes = Buffer.from('{"a":"é"}\r\n\n{"b":2}\n{"c"');
    const out: string[] = [];
    for (let i = 0; i < bytes.length; i++) out.push(...d.push(bytes.subarray(i, i + 1)));
    expect(out.map((l) => JSON.parse(l))).toEqual([{ a: "é" }, { b: 2 }]);
    expect(d.pendingBytes).toBe(4);
    expect(d.push(Buffer.from(':3}\n{"d":4}\n'))).toEqual(['{"c":3}', '{"d":4}']);
  });

  test("greeting byte by byte, reply merged with an event, an 8 MiB reply line", async () => {
    const big = "x".repeat(8 * 1024 * 1024);
    const srv = await fakeQmp(
      "split.sock",
      (cmd, s) => {
        if (cmd.execute === "big") {
          const msg = Buffer.from(line({ return: { big }, id: cmd.id }));
          for (let i = 0; i < msg.length; i += 65_537) s.write(msg.subarray(i, i + 65_537));
        } else s.write(line({ event: "X", data: {} }) + line({ return: { ok: cmd.execute }, id: cmd.id }));
      },
      (s) => {
        const g = Buffer.from(line(GREETING));
        (async () => {
          for (const b of g) {
            s.write(Buffer.of(b));
            await Bun.sleep(0);
          }
        })();
      },
    );
    const c = await QmpClient.connect(srv.path);
    const events = c.listen(["X"]);
    expect(c.greeting.version.qemu.major).toBe(7);
    expect(await c.execute("ping")).toEqual({ ok: "ping" });
    expect((await events.next(1000)).event).toBe("X");
    const r = await c.execute<{ big: string }>("big");
    expect(r.big.length).toBe(big.length);
    await c.close();
    await srv.close();
  });

  test("timeouts drop late replies; an id-less error or non-JSON line ends the connection", async () => {
    let lateSent!: () => void;
    const late = new Promise<void>((r) => (lateSent = r));
    const srv = await fakeQmp("bad.sock", (cmd, s) => {
      if (cmd.execute === "slow") setTimeout(() => s.write(line({ return: "late", id: cmd.id }), () => lateSent()), 150);
      else if (cmd.execute === "noid") s.write(line({ error: { class: "GenericError", desc: "JSON parse error" } }));
      else if (cmd.execute === "garbage") s.write("this is not json\n");
      else s.write(line({ return: cmd.execute, id: cmd.id }));
    });
    const c = await QmpClient.connect(srv.path);
    const slow = await rejection(c.execute("slow", undefined, { timeoutMs: 50 }));
    expect(slow).toBeInstanceOf(QmpTimeoutError);
    expect(slow.code).toBe("TIMEOUT");
    await late; // the late reply is on the wire; the client must drop it, not hand it to the next call
    expect(await c.execute("echo")).toBe("echo");
    const e1 = await rejection(c.execute("noid"));
    expect(e1).toBeInstanceOf(QmpDisconnectedError);
    expect(c.isConnected).toBe(false);
    const c2 = await QmpClient.connect(srv.path);
    expect(await rejection(c2.execute("garbage"))).toBeInstanceOf(QmpDisconnectedError);
    await srv.close();
  });

  test("a bad greeting is a QmpNegotiationError; close() ends listeners and reports no error", async () => {
    const bad = await fakeQmp(
      "nogreet.sock",
      () => {},
      (s) => s.write(line({ hello: 1 })),
    );
    expect(await rejection(QmpClient.connect(bad.path))).toBeInstanceOf(QmpNegotiationError);
    await bad.close();
    const srv = await fakeQmp("close.sock", () => {}); // never answers commands
    const c = await QmpClient.connect(srv.path);
    const l = c.listen("*");
    const iterated = (async () => {
      for await (const _ of l);
      return "ended";
    })();
    const reported = new Promise((r) => c.onDisconnect(r));
    const call = rejection(c.execute("hang"));
    await c.close();
    expect(await call).toBeInstanceOf(QmpDisconnectedError);
    expect(await iterated).toBe("ended");
    expect(await reported).toBeUndefined();
    expect(c.runstate).toBe("idle");
    await srv.close();
  });

  test("connecting to a missing socket is a QmpConnectError", async () => {
    const e = await rejection(QmpClient.connect(join(dir, "nope.sock"), { timeoutMs: 2000 }));
    expect(e).toBeInstanceOf(QmpConnectError);
    expect(e).toBeInstanceOf(HotmountError);
    expect(e.code).toBe("QMP_CONNECT");
    expect(e.message).not.toContain("\n");
    expect(e.hint).toContain("-qmp");
  });
});

// ---- real QEMU ----
const procs: ChildProcess[] = [];
async function startQemu(name: string, extra: string[] = []): Promise<{ proc: ChildProcess; sock: string }> {
  const sock = join(dir, `${name}.qmp`);
  const proc = spawn(
    "qemu-system-x86_64",
    [
      "-accel",
      "tcg",
      "-machine",
      "q35,memory-backend=mem",
      "-object",
      "memory-backend-memfd,id=mem,size=256M,share=on",
      "-m",
      "256M",
      "-nodefaults",
      "-display",
      "none",
      "-S",
      "-qmp",
      `unix:${sock},server=on,wait=off`,
      "-device",
      "pcie-root-port,id=hp0,bus=pcie.0,chassis=1,slot=1",
      "-device",
      "pcie-root-port,id=hp1,bus=pcie.0,chassis=2,slot=2",
      ...extra,
    ],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  procs.push(proc);
  for (let i = 0; i < 200 && !existsSync(sock); i++) {
    if (proc.exitCode !== null) throw new Error(`qemu ${name} exited with ${proc.exitCode}`);
    await Bun.sleep(25);
  }
  return { proc, sock };
}
const exited = (p: ChildProcess) => (p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => p.once("exit", () => r())));
process.on("exit", () => procs.forEach((p) => p.kill("SIGKILL"))); // last resort if afterAll never runs
afterAll(async () => {
  for (const p of procs) {
    p.kill("SIGCONT");
    p.kill("SIGKILL");
  }
  await Promise.all(procs.map(exited));
  rmSync(dir, { recursive: true, force: true });
});

describe("against QEMU 7.2 (paused with -S)", () => {
  let c: QmpClient;
  beforeAll(async () => {
    c = await QmpClient.connect((await startQemu("main")).sock, { timeoutMs: 20_000 });
  });
  afterAll(() => c?.close());

  test("negotiation, greeting and query-status", async () => {
    expect(c.isConnected).toBe(true);
    expect(c.runstate).toBe("running");
    expect(c.greeting.version.qemu.major).toBeGreaterThanOrEqual(7);
    expect(await queryStatus(c)).toMatchObject({ status: "prelaunch", running: false });
  });

  test("QEMU serves one QMP client at a time: a second one gets no greeting", async () => {
    const e = await rejection(QmpClient.connect(c.socketPath, { timeoutMs: 1000 }));
    expect(e).toBeInstanceOf(QmpTimeoutError);
    expect(e.hint).toContain("Another client");
    expect(await queryStatus(c)).toHaveProperty("status"); // the first client is unaffected
  });

  test("query-memdev shares guest RAM; query-pci lists hp0 and hp1", async () => {
    expect(await queryMemdev(c)).toContainEqual(expect.objectContaining({ id: "mem", share: true }));
    const pci = await queryPci(c);
    for (const id of ["hp0", "hp1"]) expect(findPciDevice(pci, id)?.class_info.desc).toBe("PCI bridge");
  });

  test("a huge reply (query-qmp-schema) arrives whole", async () => {
    const schema = await c.execute<unknown[]>("query-qmp-schema");
    expect(JSON.stringify(schema).length).toBeGreaterThan(100_000);
  });

  test("device_del of an unknown id is a QmpExecuteError with errorClass", async () => {
    const e = await rejection(deviceDel(c, "no-such-dev"));
    expect(e).toBeInstanceOf(QmpExecuteError);
    expect(e).toMatchObject({ code: "QMP_EXECUTE", errorClass: "DeviceNotFound", command: "device_del" });
    expect(e.desc).toContain("no-such-dev");
  });

  test("concurrent calls each get their own reply", async () => {
    const [st, ver, st2] = await Promise.all([queryStatus(c), queryVersion(c), queryStatus(c)]);
    expect(st).toHaveProperty("status");
    expect(ver.qemu).toEqual(c.greeting.version.qemu);
    expect(st2).toHaveProperty("running");
  });

  test("an event listener nobody reads never blocks replies", async () => {
    const ignored = c.listen("*");
    const seen = c.listen(["STOP", "RESUME"]);
    // From prelaunch, `stop` emits no STOP (QEMU was not running); cont/stop then do.
    await c.execute("stop");
    for (let i = 0; i < 5; i++) {
      await c.execute("cont");
      await c.execute("stop");
    }
    expect(await queryStatus(c)).toMatchObject({ status: "paused" });
    expect(ignored.pending).toBe(10);
    const names: string[] = [];
    for await (const ev of seen) if (names.push(ev.event) === 10) break;
    expect(names.slice(0, 2)).toEqual(["RESUME", "STOP"]);
    ignored.close();
    seen.close();
  });

  test("chardev-add, device_add on hp0; with ACPI hotplug device_del waits for a guest", async () => {
    await chardevAdd(c, "cd0", { type: "null", data: {} });
    expect((await queryChardev(c)).map((x) => x.label)).toContain("cd0");
    await deviceAdd(c, { driver: "virtio-serial-pci", id: "vs0", bus: "hp0", addr: "0" });
    expect((await qomList(c, "/machine/peripheral")).map((p) => p.name)).toContain("vs0");
    // q35 unplugs via ACPI: QEMU only signals the guest, which here runs no OS, so no event.
    const e = await rejection(
      c.waitForEvent(
        "DEVICE_DELETED",
        (ev) => isDeviceDeleted(ev, "vs0"),
        () => deviceDel(c, "vs0"),
        { timeoutMs: 1500 },
      ),
    );
    expect(e).toBeInstanceOf(QmpTimeoutError);
    expect((await qomList(c, "/machine/peripheral")).map((p) => p.name)).toContain("vs0");
    // Once the guest clock has run (the previous test's cont), a repeat re-signals the guest.
    // (Had the guest never run, 7.2 says "already in the process of unplug" forever.)
    await deviceDel(c, "vs0");
    await chardevRemove(c, "cd0");
  });
});

describe("against QEMU 7.2 with native PCIe hotplug", () => {
  test("device_add / device_del / DEVICE_DELETED cycle on hp0 is immediate on a powered-off slot", async () => {
    const { proc, sock } = await startQemu("native", ["-global", "ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off"]);
    const c = await QmpClient.connect(sock, { timeoutMs: 20_000 });
    const all = c.listen(["DEVICE_DELETED"]);
    await chardevAdd(c, "cd1", { type: "null", data: {} });
    for (let round = 0; round < 2; round++) {
      // the id is reusable once DEVICE_DELETED came
      await deviceAdd(c, { driver: "virtio-serial-pci", id: "vs0", bus: "hp0", addr: "0" });
      const ev = await c.waitForEvent(
        "DEVICE_DELETED",
        (e) => isDeviceDeleted(e, "vs0"),
        () => deviceDel(c, "vs0"),
        { timeoutMs: 10_000 },
      );
      expect(ev.data).toEqual({ device: "vs0", path: "/machine/peripheral/vs0" });
    }
    const both: QmpEvent[] = [await all.next(1000), await all.next(1000)];
    // Twice per virtio device: the backend first (no `device`), then the proxy itself.
    expect(both.map((e) => e.data)).toEqual([{ path: "/machine/peripheral/vs0/virtio-backend" }, { device: "vs0", path: "/machine/peripheral/vs0" }]);
    expect(both.map((e) => isDeviceDeleted(e, "vs0"))).toEqual([false, true]);
    await chardevRemove(c, "cd1");
    // quit: the reply may or may not beat the hang-up; either way QEMU exits and we notice.
    const gone = new Promise((r) => c.onDisconnect(r));
    await c.execute("quit").catch((e) => expect(e).toBeInstanceOf(QmpDisconnectedError));
    expect(await gone).toBeInstanceOf(QmpDisconnectedError);
    await exited(proc);
  });
});

/** The state letter of /proc/PID/stat (R, S, T ...). */
function processState(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
}

describe("QEMU dying", () => {
  test("SIGKILL during a call rejects it with QmpDisconnectedError, not a hang", async () => {
    const { proc, sock } = await startQemu("victim");
    const c = await QmpClient.connect(sock, { timeoutMs: 20_000 });
    const events = c.listen("*");
    const reported = new Promise((r) => c.onDisconnect(r));
    proc.kill("SIGSTOP"); // the command is written but can never be answered
    await until(() => processState(proc.pid!) === "T", 5000, "QEMU stopped by SIGSTOP");
    const call = rejection(c.execute("query-status", undefined, { timeoutMs: 60_000 }));
    const t0 = Date.now();
    proc.kill("SIGKILL");
    const e = await call;
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(e).toBeInstanceOf(QmpDisconnectedError);
    expect(e.code).toBe("QMP_DISCONNECTED");
    expect(await reported).toBeInstanceOf(QmpDisconnectedError);
    expect(c.isConnected).toBe(false);
    expect(await rejection(events.next(100))).toBeInstanceOf(QmpDisconnectedError);
    expect(await rejection(c.execute("query-status"))).toBeInstanceOf(QmpDisconnectedError);
  });
});
