// The real runTui in a real terminal (tmux), against the FakeHotmountClient (test/ui/demo.tsx):
// full screen at 80x24, the add/remove flow by keyboard, resize, and the terminal handed back
// intact on q, Ctrl-C and SIGTERM. The same checks run against a real VM in tui-e2e.test.ts.
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { expectRestored, selectInstance, tmuxAvailable, TmuxSession, withTerminalReport } from "./tmux.ts";

const repo = resolve(import.meta.dir, "../..");
const demo = `bun ${join(repo, "test/ui/demo.tsx")}`;
const env = { HOTMOUNT_DEMO_DELAY_MS: "200" };
const sessions: TmuxSession[] = [];
afterEach(() => sessions.splice(0).forEach((s) => s.kill()));

const share = mkdtempSync(join(tmpdir(), "hm-ui-tmux-"));
mkdirSync(join(share, "project-alpha"));
afterAll(() => rmSync(share, { recursive: true, force: true }));

function open(cols = 80, rows = 24): TmuxSession {
  const t = new TmuxSession(cols, rows);
  sessions.push(t);
  t.start(withTerminalReport(demo), repo, env);
  return t;
}

describe.skipIf(!tmuxAvailable())("TUI in tmux (fake client)", () => {
  test("full screen, add a mount through the form, see it ready, remove it, quit, terminal restored", async () => {
    const t = open();
    const first = await t.waitFor("Mounts · build");
    expect(t.display("#{alternate_on}")).toBe("1");
    // Header on the first row, footer on the last: the frame fills the terminal.
    const rows = first.split("\n");
    expect(rows[0]).toContain("hotmount");
    expect(rows[23]).toContain("q quit");
    await selectInstance(t, "dev");
    await t.key("a");
    await t.waitFor("Add mount · dev");
    // Type most of the folder and let Tab finish it.
    await t.type(join(share, "project-al"));
    await t.key("Tab");
    await t.waitFor(`${join(share, "project-alpha")}/`);
    await t.key("Down");
    await t.key("C-u");
    await t.type("/mnt/alpha");
    await t.key("Down");
    await t.key("Down");
    await t.key("Space");
    await t.waitFor("[x] yes, read-write");
    await t.key("Enter");
    await t.waitFor(/│› .*\/mnt\/alpha\s+virtiofs rw\s+watch\s+ready/);
    await t.key("d");
    await t.waitFor("Remove it?");
    await t.key("y");
    await t.waitFor("Removed /mnt/alpha.");
    expect(t.capture()).not.toMatch(/\/mnt\/alpha\s+virtiofs/);
    await t.key("q");
    await expectRestored(t, 0);
  }, 60_000);

  test("follows a resize of the terminal", async () => {
    const t = open(100, 30);
    await t.waitFor("lima-default");
    t.resize(60, 18);
    // tmux first shows the old frame cut off; wait for Ink's new one, drawn to the new width.
    const s = await t.waitFor((x) => {
      const ls = x.split("\n");
      return (ls[0] ?? "").includes("hotmount") && ls[1]?.length === 60 && ls[1].endsWith("╮");
    });
    expect(s).toContain("Instances");
    expect(s.split("\n").every((l) => l.length <= 60)).toBe(true);
    expect(s.split("\n")[17]).toContain("q quit");
    await t.key("q");
    await expectRestored(t, 0);
  }, 30_000);

  test("Ctrl-C quits and restores the terminal", async () => {
    const t = open();
    await t.waitFor("Mounts · build");
    await t.key("a");
    await t.waitFor("Add mount · build");
    await t.key("C-c");
    await expectRestored(t, 0);
  }, 30_000);

  test("SIGTERM restores the terminal before the process ends", async () => {
    const t = open();
    await t.waitFor("Mounts · build");
    const pid = t.foregroundPid();
    expect(pid).not.toBeNull();
    process.kill(pid!, "SIGTERM");
    await expectRestored(t, 143);
  }, 30_000);
});
