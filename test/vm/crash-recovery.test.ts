// Kill -9 the agent at every step of add and remove, restart it, and check that each
// mount is either fully present and working, or fully gone, with nothing leaked. (A guest reboot
// and a virtiofsd that dies under a live mount: test/vm/reboot.test.ts, test/vm/dead-backend.test.ts.)
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AgentClient } from "../../src/client/agent-client.ts";
import { type Failpoint } from "../../src/core/failpoint.ts";
import { instancePaths } from "../../src/core/paths.ts";
import { isAlive, waitUntil } from "../../src/util/process.ts";
import { hm, hmOk } from "../helpers/cli.ts";
import { ourProcesses } from "../helpers/leaks.ts";
import { useVm } from "../helpers/vm.ts";

const NAME = "crash";
const vm = useVm(NAME, ["--memory", "384M", "--slots", "4"]);
const root = mkdtempSync(`${tmpdir()}/hmt-crash-`);
afterAll(() => rmSync(root, { recursive: true, force: true }));
const share = join(root, "share");
mkdirSync(share);
writeFileSync(join(share, "hello"), "hello");

function agentPid(): number {
  return Number(readFileSync(instancePaths(NAME).agentPid, "utf8"));
}

async function killAgent() {
  const pid = agentPid();
  process.kill(pid, "SIGKILL");
  await waitUntil(() => !isAlive(pid), 5000);
}

/** Restarts the agent (the VM keeps running); with a failpoint armed, it dies at that step. */
async function restartAgent(fp?: Failpoint) {
  await hmOk(["vm", "start", NAME], { env: fp ? { HOTMOUNT_FAILPOINT: fp } : {} });
}

/** Converged: the mount is listed ready and readable in the guest, or gone without a trace. */
async function converged(mountPoint: string): Promise<"present" | "gone"> {
  const mounts = (await hmOk(["mount", "list", NAME, "--json"])).json() as any[];
  const inv = await new AgentClient(NAME).inventory();
  const guestMounts = await vm.run(["cat", "/proc/mounts"]);
  const vfsd = ourProcesses().filter((p) => p.argv.includes("virtiofsd") && p.argv.includes(`/${NAME}/`));
  const m = mounts.find((x) => x.mountPoint === mountPoint);
  if (m) {
    expect(m.state).toBe("ready");
    expect(await vm.run(["cat", `${mountPoint}/hello`])).toBe("hello");
    expect(inv.devices.map((d) => d.id)).toEqual([m.id]);
    return "present";
  }
  expect(mounts).toEqual([]);
  expect(inv.devices).toEqual([]);
  expect(inv.backends).toEqual([]);
  expect(vfsd).toEqual([]);
  expect(guestMounts).not.toContain(mountPoint);
  expect((await vm.exec(["test", "-e", mountPoint])).code).not.toBe(0);
  return "gone";
}

const ADD_STEPS: Failpoint[] = ["add:journaled", "plug:virtiofsd", "plug:chardev", "add:attached", "add:mounted"];
const REMOVE_STEPS: Failpoint[] = ["remove:journaled", "remove:unmounted", "unplug:deleted", "remove:detached"];

describe("kill -9 during add", () => {
  for (const fp of ADD_STEPS) {
    test(`at ${fp}: the restarted agent converges to fully gone`, async () => {
      await killAgent();
      await restartAgent(fp);
      const r = await hm(["mount", "add", NAME, share, "/mnt/c", "--json"]);
      expect(r.code).not.toBe(0); // the agent died mid-request
      await restartAgent();
      expect(await converged("/mnt/c")).toBe("gone");
      // and the instance still works
      await hmOk(["mount", "add", NAME, share, "/mnt/c"]);
      expect(await converged("/mnt/c")).toBe("present");
      await hmOk(["mount", "remove", NAME, "/mnt/c"]);
    });
  }
});

describe("kill -9 during remove", () => {
  for (const fp of REMOVE_STEPS) {
    test(`at ${fp}: the restarted agent finishes the removal`, async () => {
      await hmOk(["mount", "add", NAME, share, "/mnt/r", "--type", fp === "unplug:deleted" ? "virtiofs" : "9p"]);
      await killAgent();
      await restartAgent(fp);
      const r = await hm(["mount", "remove", NAME, "/mnt/r", "--json"]);
      expect(r.code).not.toBe(0);
      await restartAgent();
      expect(await converged("/mnt/r")).toBe("gone");
    });
  }
});

test("a ready mount survives an agent kill -9 untouched, and reverse-sshfs is re-established", async () => {
  await hmOk(["mount", "add", NAME, share, "/mnt/keep"]);
  await hmOk(["mount", "add", NAME, share, "/mnt/ssh", "--type", "sshfs"]);
  await killAgent();
  expect(await vm.run(["cat", "/mnt/keep/hello"])).toBe("hello"); // virtiofsd outlives the agent
  await restartAgent();
  const mounts = (await hmOk(["mount", "list", NAME, "--json"])).json() as any[];
  expect(mounts.map((m) => [m.mountPoint, m.state]).sort()).toEqual([
    ["/mnt/keep", "ready"],
    ["/mnt/ssh", "ready"],
  ]);
  expect(await vm.run(["cat", "/mnt/ssh/hello"])).toBe("hello");
  await hmOk(["mount", "remove", NAME, "/mnt/ssh"]);
  await hmOk(["mount", "remove", NAME, "/mnt/keep"]);
  expect(await converged("/mnt/keep")).toBe("gone");
});
