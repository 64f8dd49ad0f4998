// Adding and removing mounts: open the form or the dialog for the selected instance or mount,
// send the request, and turn the answer into the dialog's next phase or a notice.
import { clearNotice, fail, failWith, idleInstance, info, runTask, type ActionContext } from "./action-context.ts";
import { createAddMountState, toMountRequest, validateAddMount } from "./add-mount-form-state.ts";
import { toErrorView } from "./error-view.ts";
import { keysFor } from "./keymap.ts";
import { selectedMount } from "./mounts-pane-state.ts";
import { createRemoveConfirmState } from "./remove-confirm-state.ts";

export function openAdd(c: ActionContext): void {
  const inst = idleInstance(c);
  if (!inst) return;
  if (inst.state !== "running") return fail(c, `${inst.name} is ${inst.state}: mounts go into a running VM.`, `Press ${keysFor("main", "start")} to start it.`);
  clearNotice(c);
  c.dispatch({ type: "modal/open", modal: { kind: "add", form: createAddMountState(inst.name, inst.transports, c.home, c.cwd) } });
}

/** Whether the add form for `instance` is still open (Esc hides it while the request is out). */
function addFormOpen(c: ActionContext, instance: string): boolean {
  const m = c.getState().modal;
  return m.kind === "add" && m.form.instance === instance;
}

export async function submitAdd(c: ActionContext): Promise<void> {
  const modal = c.getState().modal;
  if (modal.kind !== "add" || modal.form.submitting) return;
  const form = modal.form;
  const invalid = validateAddMount(form);
  if (invalid) return c.dispatch({ type: "add/failed", error: invalid });
  const req = toMountRequest(form);
  c.dispatch({ type: "add/submitting" });
  try {
    const m = await runTask(c, form.instance, `Adding ${req.mountPoint} to ${form.instance}`, () => c.client.addMount(form.instance, req));
    c.dispatch({ type: "mounts/upsert", mount: m });
    if (addFormOpen(c, form.instance)) c.dispatch({ type: "modal/close" });
    c.dispatch({ type: "focus", focus: "mounts" });
    info(c, `Added ${m.hostPath} at ${m.mountPoint} (${m.type}, ${m.writable ? "rw" : "ro"}).`);
  } catch (e) {
    // With the form hidden, the status line is the only place left to say it.
    if (addFormOpen(c, form.instance)) c.dispatch({ type: "add/failed", error: toErrorView(e) });
    else failWith(c, e);
  }
}

export function openRemove(c: ActionContext): void {
  const m = selectedMount(c.getState().mounts);
  if (!m) return fail(c, "No mount is selected.", "Move to a mount in the mounts pane first.");
  if (!idleInstance(c)) return;
  clearNotice(c);
  c.dispatch({ type: "modal/open", modal: { kind: "remove", confirm: createRemoveConfirmState(m.instance, m) } });
}

/** Removing happens in the mounts pane; from the instances pane, say how to get there. */
export function explainRemove(c: ActionContext): void {
  const how = `Press ${keysFor("instances", "to-mounts")} or ${keysFor("main", "switch-pane")} to go to the mounts pane, then ${keysFor("mounts", "remove")}.`;
  fail(c, "Select a mount to remove.", how);
}

export async function removeMount(c: ActionContext, force: boolean): Promise<void> {
  const modal = c.getState().modal;
  if (modal.kind !== "remove" || modal.confirm.phase === "working") return;
  const { instance, mount } = modal.confirm;
  c.dispatch({ type: "remove/start", force });
  c.dispatch({ type: "mounts/mark-removing", id: mount.id });
  try {
    const label = `Removing ${mount.mountPoint}${force ? " (forced)" : ""}`;
    await runTask(c, instance, label, () => c.client.removeMount(instance, mount.id, force ? { force: true } : undefined));
    c.dispatch({ type: "mounts/removed", id: mount.id });
    if (c.getState().modal.kind === "remove") c.dispatch({ type: "modal/close" });
    info(c, `Removed ${mount.mountPoint}.`);
  } catch (e) {
    c.dispatch({ type: "remove/failed", error: toErrorView(e) });
  }
}
