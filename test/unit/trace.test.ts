// Step timings (src/core/trace.ts): off, nothing is logged; on, one "timings" line per operation
// whose steps add up to its total and count the guest round trips made in each.
import { expect, test } from "bun:test";
import { enableTrace, traced, traceGuest, traceStep } from "../../src/core/trace.ts";

test("steps, their guest commands and the total of one operation", async () => {
  const lines: Record<string, unknown>[] = [];
  expect(await traced("add", "first", async () => (traceStep("ignored"), 1))).toBe(1);
  enableTrace({ info: (msg, f) => lines.push({ msg, ...f }), warn: () => {}, error: () => {} });
  expect(lines).toEqual([]);
  traceStep("outside any operation");
  await traced("add", "choosing", async () => {
    await traceGuest(() => Bun.sleep(20));
    traceStep("mounting");
    await traceGuest(() => Bun.sleep(5));
    await traceGuest(() => Bun.sleep(5));
    await Bun.sleep(10);
  });
  await expect(traced("remove", "x", async () => Promise.reject(new Error("no")))).rejects.toThrow("no");
  expect(lines.map((l) => [l.op, l.ok])).toEqual([
    ["add", true],
    ["remove", false],
  ]);
  const steps = lines[0]!.steps as { step: string; ms: number; guestCmds: number; guestMs: number }[];
  expect(steps.map((s) => [s.step, s.guestCmds])).toEqual([
    ["choosing", 1],
    ["mounting", 2],
  ]);
  expect(steps[0]!.guestMs).toBeGreaterThanOrEqual(19);
  expect(steps[1]!.ms).toBeGreaterThanOrEqual(steps[1]!.guestMs + 9);
  const sum = steps.reduce((a, s) => a + s.ms, 0);
  expect(Math.abs(sum - (lines[0]!.totalMs as number))).toBeLessThan(0.5);
});
