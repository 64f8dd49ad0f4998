// Commands that hand a command line on (`shell`, `run`, `qemu-wrap`) take its options as they
// come, with or without `--`, as ssh and docker exec do; hotmount's own typos are still caught.
// Run as a process, as a user would, without a VM: the instance lookup answers first.
import { expect, test } from "bun:test";
import { hm } from "../helpers/cli.ts";

test("shell NAME CMD -opts: the options are the command's, not hotmount's", async () => {
  const cases = [
    ["shell", "nope", "ls", "-la", "/"],
    ["shell", "nope", "sh", "-c", "echo hi > /mnt/x/f"],
    ["shell", "nope", "--", "ls", "-la"],
    ["shell", "nope", "--help"],
  ];
  const results = await Promise.all(cases.map((args) => hm(args)));
  results.forEach((r, i) =>
    expect({ args: cases[i], code: r.code, stderr: r.stderr }).toEqual({
      args: cases[i],
      code: 3,
      stderr: expect.stringContaining('no instance named "nope"'),
    }),
  );
}, 60_000);

test("shell --help before the name is hotmount's help", async () => {
  const r = await hm(["shell", "--help"]);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain("hotmount shell dev ls -la /mnt");
}, 60_000);

test("run and qemu-wrap take QEMU's options after its program, with or without --", async () => {
  for (const args of [
    ["qemu-wrap", "--print-shell", "qemu-system-x86_64", "-machine", "help"],
    ["qemu-wrap", "--print-shell", "--", "qemu-system-x86_64", "-machine", "help"],
  ]) {
    const r = await hm(args);
    expect({ args, code: r.code, stdout: r.stdout }).toEqual({ args, code: 0, stdout: "qemu-system-x86_64 -machine help\n" });
  }
}, 60_000);

test("a mistyped hotmount option before the program is still an unknown option", async () => {
  const cases = [
    ["run", "dev", "--slot", "3", "qemu-system-x86_64", "-m", "1G"],
    ["run", "dev", "--slot", "3", "--", "qemu-system-x86_64"],
    ["qemu-wrap", "--strikt", "qemu-system-x86_64"],
  ];
  const results = await Promise.all(cases.map((args) => hm(args)));
  results.forEach((r, i) =>
    expect({ args: cases[i], code: r.code, stderr: r.stderr }).toEqual({ args: cases[i], code: 2, stderr: expect.stringContaining("unknown option '--s") }),
  );
}, 60_000);
