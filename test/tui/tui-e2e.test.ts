// End to end: the real `./hotmount tui` in tmux against a real running VM. It goes to the
// instance, adds a writable mount through the form, waits for it to be ready, checks the file
// from inside the guest (and a write back), removes the mount, quits, and checks the terminal.
//
// Needs:
//   HOTMOUNT_E2E_INSTANCE    a running instance; without it the test boots its own demo VM
//   HOTMOUNT_E2E_GUEST_EXEC  optional; a template that runs a shell command in the guest, "{}"
//                            being the command, shell-quoted (default "./hotmount shell NAME -- sh -c {}")
//   HOTMOUNT_E2E_TIMEOUT_MS  optional; how long a mount may take to become ready (default 180000)
//   HOTMOUNT_E2E_TUI_CMD     optional; the command that opens the TUI (default "./hotmount tui")
//   HOTMOUNT_E2E_CAPTURE     optional; a file to write the capture-pane text of the main screen to
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { spawnSync } from "bun";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { useVm } from "../helpers/vm.ts";
import { expectRestored, selectInstance, tmuxAvailable, TmuxSession, withTerminalReport } from "./tmux.ts";

const repo = resolve(import.meta.dir, "../..");
const instance = process.env.HOTMOUNT_E2E_INSTANCE || "tuie2e";
if (!process.env.HOTMOUNT_E2E_INSTANCE && tmuxAvailable()) useVm(instance, ["--memory", "384M", "--slots", "2"]);
// HOTMOUNT_BIN (the compiled binary) replaces ./hotmount, as in the rest of the suite.
const bin = process.env.HOTMOUNT_BIN || "./hotmount";
const guestExec = process.env.HOTMOUNT_E2E_GUEST_EXEC || `${bin} shell ${instance} -- sh -c {}`;
const tuiCmd = process.env.HOTMOUNT_E2E_TUI_CMD || `${bin} tui`;
const readyMs = Number(process.env.HOTMOUNT_E2E_TIMEOUT_MS ?? 180_000);

const skipReason = !tmuxAvailable() ? "tmux is not installed" : null;
if (skipReason) console.warn(`tui-e2e: skipped: ${skipReason}`);

const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Runs a shell command in the guest through HOTMOUNT_E2E_GUEST_EXEC. */
function inGuest(command: string): { code: number; stdout: string; stderr: string } {
  const full = guestExec.replace("{}", shq(command));
  const r = spawnSync(["bash", "-c", full], { cwd: repo, env: { ...process.env }, stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

const sessions: TmuxSession[] = [];
afterEach(() => sessions.splice(0).forEach((s) => s.kill()));
const hostDir = mkdtempSync(join(tmpdir(), "hm-e2e-tui-"));
afterAll(() => rmSync(hostDir, { recursive: true, force: true }));

describe.skipIf(skipReason !== null)(`TUI end to end on ${instance || "(no instance)"}`, () => {
  test(
    "add a mount through the form, use it from the guest, remove it, quit",
    async () => {
      if (!guestExec.includes("{}")) throw new Error('HOTMOUNT_E2E_GUEST_EXEC must contain "{}" where the guest command goes');
      const token = `hm-e2e-${Date.now().toString(36)}`;
      const share = join(hostDir, "share-e2e");
      spawnSync(["mkdir", "-p", share]);
      writeFileSync(join(share, "hello.txt"), `${token}\n`);
      const guestPath = `/mnt/${token}`;

      const t = new TmuxSession(100, 30, 120);
      sessions.push(t);
      t.start(withTerminalReport(tuiCmd), repo, { HOTMOUNT_HOME: process.env.HOTMOUNT_HOME ?? "" });
      await t.waitFor("Instances", 30_000);
      expect(t.display("#{alternate_on}")).toBe("1");

      // Go to the instance.
      await selectInstance(t, instance);
      await t.waitFor(new RegExp(`Mounts · ${instance}`));

      // Add the mount through the form: host path completed by Tab, guest path typed, writable on.
      await t.key("a");
      await t.waitFor(`Add mount · ${instance}`);
      await t.type(share.slice(0, -3));
      await t.key("Tab");
      await t.waitFor(`${share}/`);
      await t.key("Down");
      await t.key("C-u");
      await t.type(guestPath);
      await t.key("Down");
      await t.key("Down");
      await t.key("Space");
      await t.waitFor("[x] yes, read-write");
      await t.key("Enter");

      // It shows up selected in the mounts pane and becomes ready.
      // The token is [a-z0-9-] only, so the guest path needs no regex escaping.
      const row = new RegExp(`${guestPath}\\s+\\S+\\s+rw\\s+watch\\s+ready`);
      const main = await t.waitFor(row, readyMs);
      console.log(`tui-e2e: main screen with the mount ready:\n${main}`);
      if (process.env.HOTMOUNT_E2E_CAPTURE) writeFileSync(process.env.HOTMOUNT_E2E_CAPTURE, main);

      // The guest sees the file, and what it writes lands on the host.
      const read = inGuest(`cat ${guestPath}/hello.txt`);
      expect(read).toMatchObject({ code: 0, stdout: `${token}\n` });
      expect(inGuest(`echo from-guest > ${guestPath}/from-guest.txt`)).toMatchObject({ code: 0 });
      expect(existsSync(join(share, "from-guest.txt"))).toBe(true);
      expect(readFileSync(join(share, "from-guest.txt"), "utf8").trim()).toBe("from-guest");

      // Remove it; if a guest process still holds it, take the offered force.
      await t.key("d");
      await t.waitFor("Remove it?");
      await t.key("y");
      const after = await t.waitFor((s) => s.includes(`Removed ${guestPath}.`) || s.includes("Press f to force"), 120_000);
      if (after.includes("Press f to force")) {
        await t.key("f");
        await t.waitFor(`Removed ${guestPath}.`, 120_000);
      }
      await t.waitFor((s) => !row.test(s) && !s.includes(`${guestPath} `), 30_000);
      expect(inGuest(`grep -q " ${guestPath} " /proc/mounts`).code).toBe(1);

      // Quit; the terminal is handed back as it was.
      await t.key("q");
      const restored = await expectRestored(t, 0);
      console.log(`tui-e2e: terminal after quit:\n${restored}`);
    },
    readyMs + 300_000,
  );
});
