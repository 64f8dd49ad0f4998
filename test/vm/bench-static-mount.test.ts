// `vm start --mount HOST:GUEST`: the static virtiofs share the benchmark compares hot-plugged
// shares against. One real VM: the share is mounted after boot, listed as static, guarded against
// removal and overlap, tuned like a hot share, and gone (with its virtiofsd) after vm stop (the
// preload's leak check fails the file otherwise).
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { instancePaths } from "../../src/core/paths.ts";
import { hm, hmOk } from "../helpers/cli.ts";
import { useVm } from "../helpers/vm.ts";

const dir = mkdtempSync(`${tmpdir()}/hm-static-`);
writeFileSync(`${dir}/from-host`, "hello from the host\n");
mkdirSync(`${dir}/sub`);
const vm = useVm("bstatic", ["--mount", `${dir}:/mnt/static`]);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("static virtiofs share", () => {
  test("is mounted after boot, both ways, and listed as static and ready", async () => {
    expect(await vm.run(["cat", "/mnt/static/from-host"])).toBe("hello from the host\n");
    await vm.run(["sh", "-c", "echo guest > /mnt/static/from-guest"]);
    expect(readFileSync(`${dir}/from-guest`, "utf8")).toBe("guest\n");
    const list = (await hmOk(["mount", "list", vm.name, "--json"])).json();
    expect(list).toEqual([
      expect.objectContaining({ id: "hm-static0", type: "virtiofs", hostPath: dir, mountPoint: "/mnt/static", state: "ready", writable: true, static: true }),
    ]);
    expect((await hmOk(["mount", "list", vm.name])).stdout).toMatch(/hm-static0\s+bstatic\s+virtiofs \(static\)\s+rw\S*\s+ready/);
  });

  test("has the same queue-size as a hot-plugged share", () => {
    const argv = JSON.parse(
      readFileSync(instancePaths(vm.name).qemuLog, "utf8")
        .split("\n")[0]!
        .replace(/^# \S+ /, ""),
    ) as string[];
    expect(argv.find((a) => a.startsWith("vhost-user-fs-pci,"))).toMatch(/tag=hm-static0,queue-size=1024$/);
  });

  test("cannot be removed, nor overlapped, while the VM runs; a hot share of the same folder can sit beside it", async () => {
    const rm = await hm(["mount", "remove", vm.name, "/mnt/static", "--json"]);
    expect(rm.code).toBe(8);
    expect(rm.json().error.message).toContain("static share configured at boot");
    const inside = await hm(["mount", "add", vm.name, dir, "/mnt/static/sub", "--json"]);
    expect(inside.code).toBe(6);
    expect(inside.json().error.code).toBe("MOUNT_CONFLICT");
    await hmOk(["mount", "add", vm.name, dir, "/mnt/hot"]);
    expect(await vm.run(["cat", "/mnt/hot/from-guest"])).toBe("guest\n");
    expect((await hmOk(["mount", "list", vm.name, "--json"])).json().map((m: { mountPoint: string }) => m.mountPoint)).toEqual(["/mnt/static", "/mnt/hot"]);
    await hmOk(["mount", "remove", vm.name, "/mnt/hot"]);
    expect(await vm.run(["cat", "/mnt/static/from-host"])).toBe("hello from the host\n");
  });
});
