// The agent's long-lived virsh shell against libvirt's built-in test driver (test:///default:
// a real virsh, no daemon): every answer matches a one-off virsh's, arguments the shell must
// quote come back unchanged, errors are errors, and a dead shell is replaced.
import { afterAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { virsh } from "../../src/util/virsh.ts";
import { VirshShell, virshQuote } from "../../src/util/virsh-shell.ts";

const URI = "test:///default";
const hasVirsh = !spawnSync("virsh", ["--version"], { stdio: "ignore" }).error;
const shell = new VirshShell(URI);
afterAll(() => shell.close());

const NASTY = ["a b", "'", "''", '"q"', "a;b", "#x", "$HOME", "back\\slash", '{"execute":"guest-exec","arguments":{"arg":["it\'s"]}}', "--not-an-option"];

test.skipIf(!hasVirsh)("answers match a one-off virsh: output, failure, quoting", async () => {
  for (const args of [
    ["domstate", "test"],
    ["domstate", "no-such-domain"],
    ["dumpxml", "test"],
    ["list", "--all"],
    ["echo", "--", ...NASTY],
  ]) {
    const a = await shell.run(args);
    const b = await virsh(URI, args);
    expect({ args, code: a.code === 0, stdout: a.stdout }).toEqual({ args, code: b.code === 0, stdout: b.stdout });
    if (b.code !== 0) expect(a.stderr).toContain("failed to get domain");
  }
  const echoed = await shell.run(["echo", "--", ...NASTY]);
  expect(echoed.stdout).toBe(NASTY.join(" "));
});

test.skipIf(!hasVirsh)("many commands in one shell: in order, each with its own answer", async () => {
  const states = await Promise.all(Array.from({ length: 20 }, (_, i) => shell.run(["echo", `n${i}`])));
  expect(states.map((s) => s.stdout)).toEqual(Array.from({ length: 20 }, (_, i) => `n${i}`));
});

test.skipIf(!hasVirsh)("a newline goes through a one-off virsh; a closed shell is started again", async () => {
  expect((await shell.run(["echo", "a\nb"])).stdout).toBe("a\nb");
  shell.close();
  expect((await shell.run(["domstate", "test"])).stdout.trim()).toBe("running");
});

test("quoting: safe words stay bare, the rest single-quoted as sh does", () => {
  expect(virshQuote("dumpxml")).toBe("dumpxml");
  expect(virshQuote("/a/b.xml")).toBe("/a/b.xml");
  expect(virshQuote("it's")).toBe(`'it'\\''s'`);
  expect(virshQuote("")).toBe("''");
});
