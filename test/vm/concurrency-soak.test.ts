// Concurrent calls never double-book a slot and each gets a result; a shorter soak
// (HOTMOUNT_SOAK_CYCLES, default 60; the full 500 is scripts/soak/soak) leaks nothing.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { soak } from "../../scripts/soak/run-soak.ts";
import { AgentClient } from "../../src/client/agent-client.ts";
import { hm } from "../helpers/cli.ts";
import { useVm } from "../helpers/vm.ts";

const NAMES = ["cc1", "cc2", "cc3"];
NAMES.forEach((n) => useVm(n, ["--memory", "384M", "--slots", "8", "--cpus", "1"]));
const dirs = Array.from({ length: 8 }, (_, i) => {
  const d = mkdtempSync(`${tmpdir()}/hmt-cc-`);
  writeFileSync(`${d}/f`, String(i));
  return d;
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const TYPES = ["virtiofs", "9p", "sshfs", "virtiofs", "9p", "sshfs", "virtiofs", "virtiofs"];

async function burst(name: string) {
  const adds = await Promise.all(dirs.map((d, i) => hm(["mount", "add", name, d, `/mnt/p${i}`, "--type", TYPES[i]!, "--json"])));
  const list = (await hm(["mount", "list", name, "--json"])).json() as any[];
  const removes = await Promise.all(dirs.map((_, i) => hm(["mount", "remove", name, `/mnt/p${i}`, "--json"])));
  return { adds, list, removes };
}

test("8 parallel adds then 8 parallel removes on one instance: every call answers, no slot twice", async () => {
  const { adds, list, removes } = await burst("cc1");
  for (const a of adds) expect(a.code).toBe(0);
  const slots = list.filter((m) => m.slot).map((m) => m.slot);
  expect(new Set(slots).size).toBe(slots.length);
  expect(list.length).toBe(8);
  for (const r of removes) expect(r.code).toBe(0);
  expect((await new AgentClient("cc1").inventory()).devices).toEqual([]);
});

test("the same on 3 instances at once", async () => {
  const all = await Promise.all(NAMES.map(burst));
  for (const { adds, list, removes } of all) {
    expect(adds.map((a) => (a.code === 0 ? 0 : a.stdout))).toEqual(Array(8).fill(0));
    const slots = list.filter((m) => m.slot).map((m) => m.slot);
    expect(new Set(slots).size).toBe(slots.length);
    expect(removes.map((r) => r.code)).toEqual(Array(8).fill(0));
  }
  for (const n of NAMES) expect((await new AgentClient(n).inventory()).devices).toEqual([]);
});

test("soak: mixed add/remove cycles leak nothing, agent fds stay flat", async () => {
  const cycles = Number(process.env.HOTMOUNT_SOAK_CYCLES ?? 60);
  const r = await soak("cc2", dirs.slice(0, 3), cycles);
  expect(r.leaks).toEqual({ processes: [], devices: [], backends: [], guestMounts: [] });
  expect(r.agent.fdEnd).toBeLessThanOrEqual(r.agent.fdStart + 2);
  console.log(
    `soak: ${cycles} cycles in ${r.seconds.toFixed(1)} s; agent fds ${r.agent.fdStart}→${r.agent.fdEnd} (max ${r.agent.fdMax}); RSS ${r.agent.rssStartKiB}→${r.agent.rssEndKiB} KiB`,
  );
}, 900_000);
