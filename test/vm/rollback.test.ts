// Every failure point of `mount add` rolls back, each made to fail for real, and
// nothing is left behind: no virtiofsd, no chardev, no device, no slot, no guest folder.
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findVirtiofsd, qemuBinary } from "../../drivers/qemu/host-tools.ts";
import { AgentClient } from "../../src/client/agent-client.ts";
import { hm, hmOk } from "../helpers/cli.ts";
import { ourProcesses } from "../helpers/leaks.ts";
import { useVm, type TestVm } from "../helpers/vm.ts";

const root = mkdtempSync(`${tmpdir()}/hmt-rb-`);
afterAll(() => rmSync(root, { recursive: true, force: true }));
const share = join(root, "share");
mkdirSync(share);

// Process-edge fault injection: a virtiofsd that fails for sources named "fail-vfsd", and a
// QEMU that boots without shared memory. Both are the real programs otherwise.
const vfsdWrapper = join(root, "virtiofsd-wrapper");
writeFileSync(
  vfsdWrapper,
  `#!/bin/sh\ncase "$*" in *fail-vfsd*) echo "virtiofsd: cannot serve this folder (injected failure)" >&2; exit 1;; esac\nexec ${findVirtiofsd()!.path} "$@"\n`,
);
chmodSync(vfsdWrapper, 0o755);
const qemuWrapper = join(root, "qemu-noshm");
writeFileSync(qemuWrapper, `#!/bin/bash\nargs=()\nfor a in "$@"; do args+=("\${a//share=on/share=off}"); done\nexec ${qemuBinary()} "\${args[@]}"\n`);
chmodSync(qemuWrapper, 0o755);

const vm = useVm("rb", ["--memory", "384M", "--slots", "2"], { HOTMOUNT_VIRTIOFSD: vfsdWrapper });
const noshm = useVm("rbnoshm", ["--memory", "256M", "--slots", "2", "--9p-slots", "1"], { HOTMOUNT_QEMU: qemuWrapper });

async function nothingLeft(t: TestVm, mountPoint: string) {
  const inv = await new AgentClient(t.name).inventory();
  expect(inv.devices).toEqual([]);
  expect(inv.backends).toEqual([]);
  expect(ourProcesses().filter((p) => p.argv.includes("virtiofsd") && p.argv.includes(`/${t.name}/`))).toEqual([]);
  expect((await hmOk(["mount", "list", t.name, "--json"])).json()).toEqual([]);
  expect((await hmOk(["vm", "list", "--json"])).json().find((i: any) => i.name === t.name).slots.used).toBe(0);
  expect((await t.exec(["test", "-e", mountPoint])).code).not.toBe(0);
  expect(await t.run(["cat", "/proc/mounts"])).not.toContain(mountPoint);
}

describe("mount add rolls back", () => {
  test("a missing host folder: refused before anything starts", async () => {
    const r = await hm(["mount", "add", "rb", join(root, "nope"), "/mnt/x", "--json"]);
    expect(r.code).toBe(2);
    expect(r.json().error).toMatchObject({ code: "INVALID_ARGUMENT" });
    expect(r.json().error.message).toContain("does not exist");
    await nothingLeft(vm, "/mnt/x");
  });

  test("a virtiofsd that fails to start: its own words in the hint, slot freed", async () => {
    const bad = join(root, "fail-vfsd");
    mkdirSync(bad);
    const r = await hm(["mount", "add", "rb", bad, "/mnt/bad", "--json"]);
    expect(r.code).toBe(10);
    expect(r.json().error.hint).toContain("injected failure");
    await nothingLeft(vm, "/mnt/bad");
    // The slot really is free again: a good mount takes it.
    const ok = (await hmOk(["mount", "add", "rb", share, "/mnt/good", "--json"])).json();
    expect(ok.slot).toBe("hp0");
    await hmOk(["mount", "remove", "rb", "/mnt/good"]);
  });

  test("a guest mount that fails: device, chardev and virtiofsd undone, guest folders as they were", async () => {
    await vm.run(["mkdir", "-p", "/mnt/pre"]);
    await vm.run(["sh", "-c", "echo keep > /mnt/pre/keep"]);
    // The guest can no longer mount virtiofs: module out, and no kernel auto-load either.
    const modprobe = (await vm.run(["cat", "/proc/sys/kernel/modprobe"])).trim();
    await vm.sh("echo /bin/false > /proc/sys/kernel/modprobe && rmmod virtiofs");
    try {
      const r = await hm(["mount", "add", "rb", share, "/mnt/new", "--json"]);
      expect(r.code).toBe(11);
      expect(r.json().error.code).toBe("GUEST_COMMAND_FAILED");
      await nothingLeft(vm, "/mnt/new");
      const r2 = await hm(["mount", "add", "rb", share, "/mnt/pre", "--json"]);
      expect(r2.code).toBe(11);
      expect(await vm.run(["cat", "/mnt/pre/keep"])).toBe("keep\n"); // an existing folder stays
    } finally {
      await vm.sh(`echo ${modprobe} > /proc/sys/kernel/modprobe && modprobe virtiofs`);
    }
    const ok = (await hmOk(["mount", "add", "rb", share, "/mnt/new", "--json"])).json();
    expect(ok.state).toBe("ready");
    await hmOk(["mount", "remove", "rb", "/mnt/new"]);
    await nothingLeft(vm, "/mnt/new");
  });

  test("a VM without shared memory: virtiofs refused with what works instead", async () => {
    const info = await new AgentClient("rbnoshm").info();
    expect(info.transports.find((t) => t.type === "virtiofs")).toMatchObject({ available: false });
    expect(info.transports.find((t) => t.type === "virtiofs")!.reason).toMatch(/shared memory/);
    const r = await hm(["mount", "add", "rbnoshm", share, "/mnt/v", "--json"]);
    expect(r.code).toBe(8);
    expect(r.json().error.code).toBe("UNSUPPORTED");
    expect(r.json().error.hint).toMatch(/9p|reverse-sshfs/);
    await nothingLeft(noshm, "/mnt/v");
  });
});
