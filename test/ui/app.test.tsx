// The whole App against the FakeHotmountClient: layout at 80x24, navigation, the add, remove
// (busy then force), start, stop, log and help flows, live updates, errors and resizing.
import { afterEach, expect, test } from "bun:test";
import { HotmountError } from "../../src/core/errors.ts";
import { runTui } from "../../ui/index.tsx";
import { FakeHotmountClient, fakeInstance, fakeMount, sampleClient } from "./fake-client.ts";
import { clock, fakeReadDir, KEYS, renderApp, waitFor, waitForQuiet, type AppHarness } from "./helpers.tsx";

let h: AppHarness | null = null;
afterEach(() => {
  h?.unmount();
  h = null;
});

const lines = (f: string) => f.split("\n");
const selectedRow = (f: string) => lines(f).filter((l) => l.startsWith("│›"));

test("the main screen fills 80x24 exactly and lists instances and the selected instance's mounts", async () => {
  h = renderApp(sampleClient({ now: clock }));
  await waitFor(() => expect(h!.frame()).toContain("Mounts · build"));
  await h.press("j");
  await waitFor(() => expect(h!.frame()).toContain("/work/hotmount"));
  const f = h.frame();
  expect(lines(f)).toHaveLength(24);
  for (const l of lines(f)) expect(Bun.stringWidth(l)).toBeLessThanOrEqual(80);
  expect(f).toContain("NAME");
  expect(f).toContain("TRANSPORTS");
  expect(f).toMatch(/dev\s+qemu\s+running\s+kvm\s+3\s+2\/8\s+virtiofs 9p/);
  expect(f).toMatch(/lima-default\s+lima\s+stopped/);
  expect(f).toContain("not offered: sshfs: sshfs is not installed in the guest");
  expect(f).toMatch(/\/data\/imagenet\s+9p\s+ro\s+off\s+ready\s+3h/);
  expect(f).toMatch(/\/mnt\/notes\s+sshfs\s+rw\s+-\s+failed\s+3m/);
  expect(f).toContain("q quit");
});

test("a mount added elsewhere appears by polling", async () => {
  const c = new FakeHotmountClient([fakeInstance("dev")]);
  h = renderApp(c);
  await waitFor(() => expect(h!.frame()).toContain("No mounts. Press a to add one."));
  await c.addMount("dev", { hostPath: "/srv/elsewhere", mountPoint: "/mnt/elsewhere" });
  await waitFor(() => expect(h!.frame()).toContain("/mnt/elsewhere"));
});

test("moving between instances and panes keeps the selection marker on the right row", async () => {
  h = renderApp(sampleClient({ now: clock }));
  await waitFor(() => expect(selectedRow(h!.frame())[0]).toContain("build"));
  await h.press(KEYS.down);
  await waitFor(() => expect(selectedRow(h!.frame())[0]).toContain("dev"));
  await h.press(KEYS.enter);
  await waitFor(() => expect(h!.frame()).toContain("d remove"));
  await h.press("G");
  await waitFor(() => expect(selectedRow(h!.frame())).toContainEqual(expect.stringContaining("/mnt/notes")));
  // A failed mount's detail line shows its error and hint.
  expect(h.frame()).toContain("sshfs exited: remote host has disconnected — Check the agent log (l).");
  await h.press(KEYS.escape);
  await waitFor(() => expect(h!.frame()).toContain("Enter mounts"));
});

test("adding a mount through the form: completion, default guest path, type, writable", async () => {
  const c = new FakeHotmountClient([fakeInstance("dev")]);
  const readDir = fakeReadDir({
    "/home/dev": [
      { name: "src", dir: true },
      { name: "notes.txt", dir: false },
    ],
    "/home/dev/src": [{ name: "app", dir: true }],
  });
  h = renderApp(c, { readDir });
  await waitFor(() => expect(h!.frame()).toContain("No mounts"));
  await h.press("a");
  await waitFor(() => expect(h!.frame()).toContain("Add mount · dev"));
  await h.type("~/s");
  await h.press(KEYS.tab);
  await waitFor(() => expect(h!.frame()).toContain("~/src/"));
  await h.press(KEYS.tab);
  await waitFor(() => expect(h!.frame()).toContain("~/src/app/"));
  expect(h.frame()).toMatch(/Guest path\s+\/home\/dev\/src\/app/);
  await h.press(KEYS.down, KEYS.down, KEYS.right, KEYS.down, " ");
  await waitFor(() => expect(h!.frame()).toContain("[x] yes, read-write"));
  expect(h.frame()).toContain("● 9p");
  await h.press(KEYS.enter);
  await waitFor(() => expect(h!.frame()).toContain("Added /home/dev/src/app at /home/dev/src/app (9p, rw)."));
  expect(c.calls.find((x) => x.method === "addMount")?.args).toEqual([
    "dev",
    { hostPath: "/home/dev/src/app", mountPoint: "/home/dev/src/app", type: "9p", writable: true },
  ]);
  expect(selectedRow(h.frame())).toContainEqual(expect.stringMatching(/~\/src\/app\s+\/home\/dev\/src\/app\s+9p\s+rw\s+watch\s+ready/));
});

test("keys typed faster than the screen redraws still reach the dialog they opened", async () => {
  const c = new FakeHotmountClient([fakeInstance("dev")]);
  h = renderApp(c);
  await waitFor(() => expect(h!.frame()).toContain("No mounts"));
  // No pause between keys: "a" opens the form and the next keys must land in it, not in the main keys.
  h.stdin("a");
  h.stdin("/");
  h.stdin("q");
  await waitFor(() => expect(h!.frame()).toMatch(/Host path\s+\/q/));
});

test("a refused add keeps the form open with the agent's message and hint", async () => {
  const c = new FakeHotmountClient([fakeInstance("dev")]);
  c.failNext.set(
    "addMount",
    new HotmountError("NO_FREE_SLOT", "All 8 hot-plug slots of dev are in use.", { hint: "Remove a mount, or restart dev with more slots." }),
  );
  h = renderApp(c);
  await waitFor(() => expect(h!.frame()).toContain("No mounts"));
  await h.press("a");
  await h.type("/srv/x");
  await h.press(KEYS.enter);
  await waitFor(() => expect(h!.frame()).toContain("All 8 hot-plug slots of dev are in use."));
  expect(h.frame()).toContain("Remove a mount, or restart dev with more slots.");
  expect(h.frame()).toContain("Add mount · dev");
  expect(h.frame()).not.toContain("    at ");
  await h.press(KEYS.escape);
  await waitFor(() => expect(h!.frame()).toContain("No mounts"));
});

test("Esc while an add is out hides the form; a late failure lands in the status line", async () => {
  const c = new FakeHotmountClient([fakeInstance("dev")]);
  // The request fails only once the form is hidden, however slowly the keys arrive.
  const answer = Promise.withResolvers<void>();
  c.addMount = async () => {
    await answer.promise;
    throw new HotmountError("GUEST_COMMAND_FAILED", "mount -t virtiofs failed in the guest.", { hint: "See the agent log (l)." });
  };
  h = renderApp(c);
  await waitFor(() => expect(h!.frame()).toContain("No mounts"));
  await h.press("a");
  await h.type("/srv/x");
  await h.press(KEYS.enter);
  await waitFor(() => expect(h!.frame()).toMatch(/Adding \/srv\/x to dev · \d+\.\ds/));
  await h.press(KEYS.escape);
  await waitFor(() => expect(h!.frame()).not.toContain("Add mount · dev"));
  answer.resolve();
  await waitFor(() => expect(h!.frame()).toContain("✘ mount -t virtiofs failed in the guest."));
  expect(h.frame()).toContain("See the agent log (l).");
});

test("removing a busy mount shows the reason and offers force", async () => {
  const c = new FakeHotmountClient([{ summary: fakeInstance("dev"), mounts: [fakeMount("dev", 1)], log: [], busy: new Set(["/mnt/project-1"]) }]);
  h = renderApp(c);
  await waitFor(() => expect(h!.frame()).toContain("/mnt/project-1"));
  await h.press(KEYS.tab, "d");
  await waitFor(() => expect(h!.frame()).toContain("Remove it?"));
  await h.press("y");
  await waitFor(() => expect(h!.frame()).toContain("is busy: process 812 (bash)"));
  expect(h.frame()).toContain("Press f to force");
  await h.press("f");
  await waitFor(() => expect(h!.frame()).toContain("Removed /mnt/project-1."));
  expect(c.calls.filter((x) => x.method === "removeMount").map((x) => x.args[2])).toEqual([undefined, { force: true }]);
  await waitFor(() => expect(h!.frame()).toContain("No mounts"));
});

test("d from the instances pane explains where to go instead of removing anything", async () => {
  const c = new FakeHotmountClient([{ summary: fakeInstance("dev"), mounts: [fakeMount("dev", 1)], log: [], busy: new Set() }]);
  h = renderApp(c);
  await waitFor(() => expect(h!.frame()).toContain("/mnt/project-1"));
  await h.press("d");
  await waitFor(() => expect(h!.frame()).toContain("Select a mount to remove."));
  expect(c.calls.some((x) => x.method === "removeMount")).toBe(false);
});

test("start and stop a VM, with the stop confirmed", async () => {
  const c = new FakeHotmountClient([fakeInstance("dev", { state: "stopped" })], { delayMs: 30 });
  h = renderApp(c);
  await waitFor(() => expect(h!.frame()).toContain("dev is stopped. Press s to start it."));
  await h.press("a");
  await waitFor(() => expect(h!.frame()).toContain("dev is stopped: mounts go into a running VM."));
  await h.press("s");
  await waitFor(() => expect(h!.frame()).toMatch(/Starting dev — (booting the guest|waiting for ssh|starting the agent) · \d+\.\ds/));
  await waitFor(() => expect(h!.frame()).toContain("dev is running."));
  await h.press("x");
  await waitFor(() => expect(h!.frame()).toContain("Stop the VM dev?"));
  await h.press("y");
  await waitFor(() => expect(h!.frame()).toContain("dev is stopped."));
  expect(c.calls.map((x) => x.method)).toContain("stopVm");
});

test("the agent log viewer scrolls and closes", async () => {
  h = renderApp(sampleClient({ now: clock }));
  await waitFor(() => expect(h!.frame()).toContain("build"));
  await h.press("j", "l");
  await waitFor(() => expect(h!.frame()).toContain("agent: event 39"));
  expect(h.frame()).toContain("following");
  await h.press("g");
  await waitFor(() => expect(h!.frame()).toContain("agent: event 0"));
  expect(h.frame()).not.toContain("following");
  await h.press(KEYS.escape);
  await waitFor(() => expect(h!.frame()).toContain("Instances"));
});

test("the help overlay opens on ? and any key closes it", async () => {
  h = renderApp(sampleClient({ now: clock }));
  await waitFor(() => expect(h!.frame()).toContain("build"));
  await h.press("?");
  await waitFor(() => expect(h!.frame()).toContain("Help · hotmount"));
  expect(h.frame()).toContain("complete the host path");
  expect(lines(h.frame())).toHaveLength(24);
  await h.press("x");
  await waitFor(() => expect(h!.frame()).not.toContain("Help · hotmount"));
  expect(h.frame()).not.toContain("Stop the VM");
});

test("a failing client shows message and hint, and the last data stays", async () => {
  const c = sampleClient({ now: clock });
  h = renderApp(c);
  await waitFor(() => expect(h!.frame()).toContain("lima-default"));
  c.listInstances = async () => {
    throw new HotmountError("AGENT_UNREACHABLE", "The agent of dev does not answer.", { hint: "hotmount vm start dev restarts it." });
  };
  await waitFor(() => expect(h!.frame()).toContain("Cannot list instances: The agent of dev does not answer."));
  expect(h.frame()).toContain("hotmount vm start dev restarts it.");
  expect(h.frame()).toContain("NOT UPDATING");
  expect(h.frame()).toContain("lima-default");
  expect(lines(h.frame())).toHaveLength(24);
});

test("resizing re-lays the screen out, and a tiny terminal gets a clear message", async () => {
  h = renderApp(sampleClient({ now: clock }));
  await waitFor(() => expect(h!.frame()).toContain("lima-default"));
  h.rerender(120, 40);
  await waitFor(() => expect(lines(h!.frame())).toHaveLength(40));
  expect(Math.max(...lines(h.frame()).map((l) => Bun.stringWidth(l)))).toBe(120);
  h.rerender(60, 16);
  await waitFor(() => expect(lines(h!.frame())).toHaveLength(16));
  for (const l of lines(h.frame())) expect(Bun.stringWidth(l)).toBeLessThanOrEqual(60);
  // On a short terminal a dialog takes the whole body rather than being squeezed.
  h.rerender(50, 14);
  await h.press("a");
  await waitFor(() => expect(h!.frame()).toContain("Add mount · build"));
  expect(h.frame()).toContain("Writable");
  expect(lines(h.frame())).toHaveLength(14);
  await h.press(KEYS.escape);
  h.rerender(30, 10);
  await waitFor(() => expect(h!.frame().replace(/\s+/g, " ")).toContain("Terminal too small: 30x10. hotmount needs at least 50x14."));
});

test("q quits the app: it unmounts and polling stops", async () => {
  const c = sampleClient({ now: clock });
  h = renderApp(c);
  await waitFor(() => expect(h!.frame()).toContain("build"));
  await h.press("q");
  // Polling every 40 ms: quiet for five intervals means it stopped (it never is while it runs;
  // waitForQuiet then fails after 3 s).
  await waitForQuiet(() => c.calls.length, 200);
});

test.skipIf(Boolean(process.stdout.isTTY && process.stdin.isTTY))("runTui refuses to start without a terminal, with a hint", async () => {
  const err = await runTui(new FakeHotmountClient()).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(HotmountError);
  expect(err).toMatchObject({ code: "USAGE", message: "The interactive TUI needs a terminal." });
});
