// Through the CLI: start/stop/list semantics, failures that leave nothing.
import { expect, test } from "bun:test";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { instancePaths } from "../../src/core/paths.ts";
import { hm, hmOk } from "../helpers/cli.ts";
import { ourProcesses } from "../helpers/leaks.ts";
import { useVm } from "../helpers/vm.ts";

const vm = useVm("life", ["--slots", "3", "--cpus", "1"]);

test("vm list --json gives name, driver, state, pid, accel, ssh and slots", async () => {
  const list = (await hmOk(["vm", "list", "--json"])).json();
  const me = list.find((i: any) => i.name === "life");
  expect(me).toMatchObject({ name: "life", driver: "qemu", state: "running", slots: { total: 3, used: 0 } });
  expect(["tcg", "kvm"]).toContain(me.accel);
  expect(me.pid).toBeGreaterThan(1);
  expect(me.ssh).toMatchObject({ host: "127.0.0.1", user: "root" });
  expect(me.ssh.port).toBeGreaterThan(1024);
  expect(existsSync(me.ssh.identityFile)).toBe(true);
  expect(readFileSync(`/proc/${me.pid}/cmdline`, "utf8")).toContain("qemu-system");
  expect(await vm.run(["uname", "-s"])).toBe("Linux\n");
});

test("starting a running VM is a clear error and changes nothing", async () => {
  const before = (await hmOk(["vm", "list", "--json"])).json().find((i: any) => i.name === "life");
  const r = await hm(["vm", "start", "life", "--json"]);
  expect(r.code).toBe(5);
  expect(r.json().error.code).toBe("INSTANCE_ALREADY_RUNNING");
  expect(r.json().error.hint).toContain("vm stop life");
  const after = (await hmOk(["vm", "list", "--json"])).json().find((i: any) => i.name === "life");
  expect(after.pid).toBe(before.pid);
  expect(after.ssh.port).toBe(before.ssh.port);
});

test("stopping a stopped VM succeeds; an unknown one is a clear error", async () => {
  const r = await hm(["vm", "stop", "never-started"]);
  expect(r.code).toBe(3);
  expect(r.stderr).toContain('no instance named "never-started"');
  await hmOk(["vm", "start", "twice", "--memory", "256M", "--slots", "1"]);
  await hmOk(["vm", "stop", "twice"]);
  const again = await hmOk(["vm", "stop", "twice", "--json"]);
  expect(again.json()).toEqual({ name: "twice", state: "stopped" });
  expect(ourProcesses().filter((p) => p.argv.includes("/twice/"))).toEqual([]);
});

test("a QEMU that fails to start shows its stderr and leaves no process or pidfile", async () => {
  const r = await hm(["vm", "start", "badk", "--kernel", "/nonexistent/vmlinuz", "--json"]);
  expect(r.code).toBe(12);
  const err = r.json().error;
  expect(err.code).toBe("VM_START_FAILED");
  expect(err.hint).toContain("/nonexistent/vmlinuz"); // QEMU's own words
  const p = instancePaths("badk");
  expect(existsSync(p.qemuPid)).toBe(false);
  expect(existsSync(p.qmpSock)).toBe(false);
  expect(ourProcesses().filter((x) => x.argv.includes("/badk/"))).toEqual([]);
  expect((await hmOk(["vm", "list", "--json"])).json().find((i: any) => i.name === "badk").state).toBe("stopped");
});

test("a QEMU that stops on one of its own assertions while booting is started once more; its log keeps both launches", async () => {
  // A wrapper stands in for QEMU (a process edge): its first VM launch (the one with a QMP socket;
  // the accelerator probe has none) prints QEMU 10.0's TCG assertion and aborts, as QEMU did once
  // in a full run; every later launch is the real QEMU.
  const real = process.env.HOTMOUNT_QEMU ?? Bun.which("qemu-system-x86_64");
  expect(real).toBeTruthy();
  const dir = mkdtempSync(join(tmpdir(), "hm-qemu-assert-"));
  const mark = join(dir, "aborted-once");
  const wrapper = join(dir, "qemu-system-x86_64");
  writeFileSync(
    wrapper,
    `#!/bin/sh\ncase " $* " in *" -qmp "*) if [ ! -e '${mark}' ]; then : > '${mark}'; ` +
      `echo "qemu-system-x86_64: system/physmem.c:2678: iotlb_to_section: Assertion \\\`section_index < d->map.sections_nb' failed." >&2; kill -ABRT $$; fi;; esac\n` +
      `exec '${real}' "$@"\n`,
  );
  chmodSync(wrapper, 0o755);
  try {
    const r = await hm(["vm", "start", "asserts", "--memory", "256M", "--slots", "1"], { env: { HOTMOUNT_QEMU: wrapper } });
    expect(existsSync(mark)).toBe(true);
    expect(r.code).toBe(0);
    // QEMU's log keeps both launches: the one that stopped, with QEMU's words, and the one that runs.
    const log = readFileSync(instancePaths("asserts").qemuLog, "utf8");
    expect(log).toContain("Assertion `section_index < d->map.sections_nb' failed.");
    expect(log.match(/^# \d{4}-/gm)?.length).toBe(2);
    expect((await hmOk(["vm", "list", "--json"])).json().find((i: any) => i.name === "asserts").state).toBe("running");
  } finally {
    await hm(["vm", "stop", "asserts"]);
    rmSync(dir, { recursive: true, force: true });
  }
  expect(ourProcesses().filter((p) => p.argv.includes("/asserts/"))).toEqual([]);
});

test("mount commands on a stopped or unknown instance say so", async () => {
  const r = await hm(["mount", "list", "badk", "--json"]);
  expect(r.json().error.code).toBe("INSTANCE_NOT_RUNNING");
  expect(r.code).toBe(4);
  const u = await hm(["mount", "add", "nosuch", "/tmp", "--json"]);
  expect([2, 3]).toContain(u.code);
});

test("usage errors exit 2 with a hint; bare hotmount without a terminal prints help", async () => {
  const bad = await hm(["vm", "start", "Bad_Name"]);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toMatch(/invalid instance name/);
  const slots = await hm(["vm", "start", "x", "--slots", "40"]);
  expect(slots.code).toBe(2);
  expect(slots.stderr).toMatch(/--slots must be a whole number from 1 to 32/);
  const bare = await hm([]);
  expect(bare.code).toBe(0);
  expect(bare.stdout).toContain("Usage: hotmount");
  expect(bare.stdout).toContain("Quick start");
});

test("doctor reports QEMU, the accelerator verdict, virtiofsd flavour and sftp-server", async () => {
  const d = (await hmOk(["doctor", "--json"])).json();
  const by = Object.fromEntries(d.checks.map((c: any) => [c.name, c]));
  expect(by.qemu.ok).toBe(true);
  expect(by.qemu.detail).toMatch(/\d+\.\d+/);
  expect(by.virtiofsd.detail).toMatch(/C, from QEMU|Rust/);
  expect(by["sftp-server"].ok).toBe(true);
  expect(by["sftp-server"].detail).toMatch(/jailed to the share \(private mount namespace, chroot\)/);
  expect(by.kvm.detail.length).toBeGreaterThan(5);
});
