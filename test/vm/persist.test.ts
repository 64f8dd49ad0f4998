// `mount add --persist` is kept in the instance config, applied again at the
// next `vm start` and after a guest reboot, and shown as persistent.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { instancePaths } from "../../src/core/paths.ts";
import { waitUntil } from "../../src/util/process.ts";
import { hm, hmOk } from "../helpers/cli.ts";
import { useVm } from "../helpers/vm.ts";

const NAME = "pers";
const vm = useVm(NAME, ["--memory", "384M", "--slots", "2"]);
const share = mkdtempSync(`${tmpdir()}/hmt-pers-`);
afterAll(() => rmSync(share, { recursive: true, force: true }));
writeFileSync(`${share}/hello`, "hello");

const list = async () => (await hmOk(["mount", "list", NAME, "--json"])).json() as any[];
const readyAt = (mp: string) =>
  waitUntil(
    async () => {
      const r = await hm(["mount", "list", NAME, "--json"]);
      return r.code === 0 && r.json().some((m: any) => m.mountPoint === mp && m.state === "ready");
    },
    120_000,
    500,
  );

test("persistent mounts come back after vm stop/start and after a guest reboot; others do not", async () => {
  await hmOk(["mount", "add", NAME, share, "/mnt/keep", "--persist", "--type", "9p"]);
  await hmOk(["mount", "add", NAME, share, "/mnt/once"]);
  const before = await list();
  expect(before.find((m) => m.mountPoint === "/mnt/keep").persist).toBe(true);
  expect(before.find((m) => m.mountPoint === "/mnt/once").persist).toBe(false);
  expect((await hmOk(["mount", "list", NAME])).stdout).toMatch(/ro,persist/);
  const cfg = JSON.parse(readFileSync(instancePaths(NAME).config, "utf8"));
  expect(cfg.persistentMounts).toEqual([{ hostPath: share, mountPoint: "/mnt/keep", type: "9p", writable: false }]);

  await hmOk(["vm", "stop", NAME]);
  await hmOk(["vm", "start", NAME, "--memory", "384M"]);
  vm.reconnect();
  expect(await readyAt("/mnt/keep")).toBe(true);
  expect((await list()).map((m) => m.mountPoint)).toEqual(["/mnt/keep"]);
  expect(await vm.run(["cat", "/mnt/keep/hello"])).toBe("hello");

  const idBefore = (await list())[0].id;
  await vm.exec(["sh", "-c", "(sleep 1; reboot -f) >/dev/null 2>&1 &"]);
  vm.reconnect();
  // The agent sees the new boot and mounts it again by itself, as the same record (every mount
  // comes back after a reboot: test/vm/reboot.test.ts). The proof is its restored event.
  const restored = () =>
    readFileSync(instancePaths(NAME).events, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l))
      .some((e) => e.type === "mount-restored" && e.mountId === idBefore);
  expect(await waitUntil(restored, 120_000, 500)).toBe(true);
  expect(await readyAt("/mnt/keep")).toBe(true);
  expect((await list()).map((m) => [m.id, m.persist])).toEqual([[idBefore, true]]);
  expect(await vm.run(["cat", "/mnt/keep/hello"])).toBe("hello");

  await hmOk(["mount", "remove", NAME, "/mnt/keep"]);
  expect(JSON.parse(readFileSync(instancePaths(NAME).config, "utf8")).persistentMounts).toEqual([]);
});
