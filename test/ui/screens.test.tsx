// Rendering of each screen part on its own, at 80 columns, with the fake data.
import { afterEach, expect, test } from "bun:test";
import { cleanup, render } from "ink-testing-library";
import type { ReactElement } from "react";
import { AddMountForm } from "../../ui/add-mount-form.tsx";
import { AgentLog } from "../../ui/agent-log.tsx";
import { ConfirmPrompt } from "../../ui/confirm-prompt.tsx";
import { fitHints, Footer, footerKeys } from "../../ui/footer.tsx";
import { Header } from "../../ui/header.tsx";
import { HelpOverlay } from "../../ui/help-overlay.tsx";
import { InstanceDetail, InstancesPane } from "../../ui/instances-pane.tsx";
import { MountDetail, MountsPane } from "../../ui/mounts-pane.tsx";
import { RemoveConfirm } from "../../ui/remove-confirm.tsx";
import { StatusLine, statusLines } from "../../ui/status-line.tsx";
import { TextField } from "../../ui/text-field.tsx";
import { addMountReducer, createAddMountState } from "../../ui/add-mount-form-state.ts";
import { agentLogReducer, createAgentLogState } from "../../ui/agent-log-state.ts";
import { appReducer, initialAppState } from "../../ui/app-state.ts";
import { instancesReducer, initialInstancesState } from "../../ui/instances-pane-state.ts";
import { initialMountsState, mountsReducer } from "../../ui/mounts-pane-state.ts";
import { createRemoveConfirmState, removeConfirmReducer } from "../../ui/remove-confirm-state.ts";
import { ALL_TRANSPORTS, fakeInstance, fakeMount } from "./fake-client.ts";
import { NOW } from "./helpers.tsx";

afterEach(() => cleanup());
const show = (el: ReactElement) => Bun.stripANSI(render(el).lastFrame() ?? "");
const rows = (f: string) => f.split("\n");

test("instances pane: columns, selection marker, scrolling window and empty states", () => {
  const items = Array.from({ length: 9 }, (_, i) => fakeInstance(`vm${i}`, { mounts: i, slots: { total: 8, used: i % 3 } }));
  let s = instancesReducer(initialInstancesState, { type: "instances/loaded", items });
  s = instancesReducer(s, { type: "instances/move", delta: 7 });
  const f = show(<InstancesPane state={s} focused width={80} rows={4} />);
  expect(rows(f)).toHaveLength(7);
  expect(rows(f)[0]).toContain("Instances 8/9");
  expect(f).toMatch(/│› vm7\s+qemu\s+running\s+kvm\s+7\s+1\/8\s+virtiofs 9p/);
  expect(f).not.toContain("vm0");
  expect(show(<InstancesPane state={initialInstancesState} focused width={80} rows={2} />)).toContain("Loading instances…");
  expect(show(<InstancesPane state={{ ...initialInstancesState, loaded: true }} focused width={80} rows={2} />)).toContain(
    "No instances yet. Start one with: hotmount vm start NAME",
  );
});

test("instance detail: why transports are not offered, else the ssh address", () => {
  expect(show(<InstanceDetail inst={fakeInstance("dev")} width={80} />)).toContain("dev: not offered: sshfs: sshfs is not installed in the guest");
  const all = fakeInstance("dev", { transports: [{ type: "virtiofs", available: true }] });
  expect(show(<InstanceDetail inst={all} width={80} />)).toContain("all transports available · ssh hm@127.0.0.1 -p 60022");
});

test("mounts pane: paths ellipsized, type, mode, watch, state, age; empty and stopped states", () => {
  let s = mountsReducer(initialMountsState, { type: "mounts/show", instance: "dev" });
  const long = fakeMount("dev", 2, {
    hostPath: "/home/dev/a/very/deep/directory/tree/with/a/long/name",
    type: "reverse-sshfs",
    writable: false,
    state: "removing",
  });
  s = mountsReducer(s, { type: "mounts/loaded", instance: "dev", items: [fakeMount("dev", 1, { watch: true }), long] });
  const f = show(<MountsPane state={s} instance={fakeInstance("dev")} focused width={80} rows={4} now={NOW} home="/home/dev" />);
  expect(rows(f)[0]).toContain("Mounts · dev (2)");
  expect(rows(f)[1]).toMatch(/MODE\s+WATCH\s+STATE/);
  expect(f).toMatch(/│› ~\/src\/project-1\s+\/mnt\/project-1\s+virtiofs rw\s+watch\s+ready\s+5m│/);
  expect(f).toMatch(/~\/a\/very\/d…long\/name\s+\/mnt\/project-2\s+sshfs\s+ro\s+-\s+removing\s+5m/);
  for (const r of rows(f)) expect(Bun.stringWidth(r)).toBe(80);
  const empty = mountsReducer(mountsReducer(initialMountsState, { type: "mounts/show", instance: "dev" }), {
    type: "mounts/loaded",
    instance: "dev",
    items: [],
  });
  expect(show(<MountsPane state={empty} instance={fakeInstance("dev")} focused={false} width={80} rows={3} now={NOW} home="/" />)).toContain(
    "No mounts. Press a to add one.",
  );
  expect(
    show(<MountsPane state={empty} instance={fakeInstance("dev", { state: "stopped" })} focused={false} width={80} rows={3} now={NOW} home="/" />),
  ).toContain("dev is stopped. Press s to start it.");
});

test("mount detail: device details, or the error with its hint", () => {
  expect(show(<MountDetail mount={fakeMount("dev", 1)} width={80} />)).toContain(
    "/home/dev/src/project-1 → /mnt/project-1 · m1 · virtiofs · tag hm1 · slot rp1",
  );
  const failed = fakeMount("dev", 1, {
    state: "failed",
    error: { code: "GUEST_COMMAND_FAILED", message: "mount: unknown filesystem type 'virtiofs'", hint: "The guest kernel lacks virtiofs." },
  });
  expect(show(<MountDetail mount={failed} width={100} />)).toContain("✘ mount: unknown filesystem type 'virtiofs' — The guest kernel lacks virtiofs.");
  expect(show(<MountDetail mount={fakeMount("dev", 1, { watch: false })} width={120} />)).toContain("slot rp1 · not watched (--no-watch)");
  expect(show(<MountDetail mount={fakeMount("dev", 1, { watch: true })} width={120} />)).toContain("slot rp1 · watching host changes");
  const degraded = fakeMount("dev", 1, { watch: true, watchWarning: "watching 6 of 9 folders" });
  expect(show(<MountDetail mount={degraded} width={100} />)).toContain("! watch degraded: watching 6 of 9 folders");
});

test("add-mount form: fields, focused marker, candidates, unavailable transports, error", () => {
  let s = createAddMountState("dev", ALL_TRANSPORTS, "/home/dev", "/");
  s = addMountReducer(s, { type: "add/edit", edit: { kind: "insert", text: "~/s" } });
  s = addMountReducer(s, { type: "add/completed", from: "~/s", value: "~/s", candidates: ["src/", "srv/"] });
  let f = show(<AddMountForm state={s} width={80} height={15} />);
  expect(rows(f)).toHaveLength(15);
  expect(f).toContain("Add mount · dev");
  expect(f).toMatch(/› Host path\s+~\/s/);
  expect(f).toContain("src/  srv/");
  expect(f).toMatch(/Guest path\s+\/home\/dev\/s/);
  expect(f).toContain("● virtiofs  ○ 9p");
  expect(f).toContain("not offered: sshfs: sshfs is not installed in the guest");
  expect(f).toContain("[ ] no, read-only (ro)");
  s = addMountReducer(s, {
    type: "add/failed",
    error: { code: "MOUNT_CONFLICT", message: "/home/dev/s is already a mount point in dev.", hint: "Pick another guest path." },
  });
  f = show(<AddMountForm state={s} width={80} height={15} />);
  expect(f).toContain("✘ /home/dev/s is already a mount point in dev.");
  expect(f).toContain("Pick another guest path.");
});

test("text field: cursor shown inverse, long values scroll to keep the cursor visible", () => {
  const r = render(<TextField state={{ value: "abc", cursor: 1 }} focused width={10} />);
  expect(r.lastFrame()).toContain("abc");
  const long = "/" + "x".repeat(40) + "/end";
  expect(Bun.stripANSI(render(<TextField state={{ value: long, cursor: long.length }} focused width={12} />).lastFrame() ?? "")).toBe("xxxxxxx/end");
  expect(Bun.stripANSI(render(<TextField state={{ value: "", cursor: 0 }} focused={false} width={20} placeholder="~/src" />).lastFrame() ?? "")).toBe("~/src");
});

test("remove dialog: confirm, busy with force offer, failure", () => {
  const c = createRemoveConfirmState("dev", fakeMount("dev", 1));
  let f = show(<RemoveConfirm state={c} width={80} height={12} home="/home/dev" />);
  expect(f).toContain("Remove /mnt/project-1");
  expect(f).toContain("host ~/src/project-1 · virtiofs");
  expect(f).toContain("Remove it? y/Enter yes  n/Esc no");
  const busy = removeConfirmReducer(removeConfirmReducer(c, { type: "remove/start", force: false }), {
    type: "remove/failed",
    error: { code: "MOUNT_BUSY", message: "/mnt/project-1 is busy: vim (pid 812) has files open.", hint: "Close them or force." },
  });
  f = show(<RemoveConfirm state={busy} width={80} height={12} home="/home/dev" />);
  expect(f).toContain("✘ /mnt/project-1 is busy: vim (pid 812) has files open.");
  expect(f).toContain("Close them or force.");
  expect(f).toContain("Press f to force");
  const failed = removeConfirmReducer(
    { ...busy, force: true, phase: "working" },
    { type: "remove/failed", error: { code: "GUEST_COMMAND_FAILED", message: "umount failed" } },
  );
  expect(show(<RemoveConfirm state={failed} width={80} height={12} home="/" />)).toContain("r retries · Esc closes");
});

test("confirm prompt, agent log and help render in their boxes", () => {
  expect(show(<ConfirmPrompt title="Stop VM · dev" lines={["Stop the VM dev?"]} width={80} height={8} />)).toContain("Stop the VM dev?");
  const lines = Array.from({ length: 50 }, (_, i) => `log line ${i}\twith a tab`);
  let log = agentLogReducer(createAgentLogState("dev"), { type: "log/loaded", instance: "dev", lines });
  let f = show(<AgentLog state={log} width={80} height={12} />);
  expect(f).toContain("Agent log · dev 41-50/50 · following");
  expect(f).toContain("log line 49  with a tab");
  log = agentLogReducer(log, { type: "log/failed", instance: "dev", error: { code: "AGENT_UNREACHABLE", message: "no agent", hint: "start it" } });
  f = show(<AgentLog state={log} width={80} height={12} />);
  expect(f).toContain("✘ no agent");
  const help = show(<HelpOverlay width={80} height={21} />);
  expect(rows(help)).toHaveLength(21);
  for (const k of ["select instance/mount", "remove the mount", "complete the host path", "quit"]) expect(help).toContain(k);
  expect(show(<HelpOverlay width={60} height={30} />)).toContain("change type/writable");
});

test("footer: keys for the current context, least useful dropped when narrow", () => {
  const s = initialAppState(0);
  expect(show(<Footer hints={footerKeys(s)} width={80} />)).toContain("a add  s start  x stop");
  const narrow = fitHints(footerKeys(s), 30).map((h) => h.keys);
  expect(narrow.slice(-2)).toEqual(["?", "q"]);
  const add = appReducer(s, { type: "modal/open", modal: { kind: "add", form: createAddMountState("a", ALL_TRANSPORTS, "/", "/") } });
  expect(show(<Footer hints={footerKeys(add)} width={80} />)).toContain("Tab complete");
});

test("status line: spinner with step and elapsed time; errors with their hint on a second line", () => {
  let s = appReducer(initialAppState(NOW), {
    type: "task/start",
    task: { id: 1, instance: "dev", label: "Starting dev", step: "booting the guest", startedAt: NOW - 12_300 },
  });
  expect(show(<StatusLine state={s} width={80} clock={() => NOW} />)).toMatch(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] Starting dev — booting the guest · 12\.3s/);
  s = appReducer(initialAppState(NOW), { type: "notice", notice: { kind: "error", text: "dev is busy.", hint: "Wait for it.", at: NOW } });
  expect(statusLines(s)).toBe(2);
  const f = show(<StatusLine state={s} width={80} clock={() => NOW} />);
  expect(rows(f)).toEqual([" ✘ dev is busy.", "   Wait for it."]);
});

test("header: count, freshness, and a warning when polling fails", () => {
  let s = appReducer(initialAppState(NOW), { type: "instances/loaded", items: [fakeInstance("a")] });
  s = appReducer(s, { type: "poll/ok", now: NOW });
  expect(show(<Header state={s} width={80} />)).toMatch(/hotmount · 1 instance\s+updated 0s ago · \? help/);
  s = appReducer(s, { type: "poll/failed", error: { code: "AGENT_UNREACHABLE", message: "x" }, now: NOW });
  expect(show(<Header state={s} width={80} />)).toContain("NOT UPDATING");
});
