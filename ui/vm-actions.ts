// Starting and stopping the selected VM. Stopping asks first (its mounts go with it); both run
// as tasks that report each step the client passes on.
import { clearNotice, failWith, idleInstance, info, runTask, type ActionContext } from "./action-context.ts";

export async function startVm(c: ActionContext): Promise<void> {
  const inst = idleInstance(c);
  if (!inst) return;
  if (inst.state === "running" || inst.state === "starting") return info(c, `${inst.name} is already ${inst.state}.`);
  clearNotice(c);
  try {
    await runTask(c, inst.name, `Starting ${inst.name}`, (step) => c.client.startVm(inst.name, {}, step));
    info(c, `${inst.name} is running.`);
  } catch (e) {
    failWith(c, e);
  }
}

export function askStopVm(c: ActionContext): void {
  const inst = idleInstance(c);
  if (!inst) return;
  if (inst.state === "stopped") return info(c, `${inst.name} is already stopped.`);
  c.dispatch({ type: "modal/open", modal: { kind: "stop", instance: inst.name } });
}

export async function stopVm(c: ActionContext): Promise<void> {
  const modal = c.getState().modal;
  if (modal.kind !== "stop") return;
  c.dispatch({ type: "modal/close" });
  try {
    await runTask(c, modal.instance, `Stopping ${modal.instance}`, (step) => c.client.stopVm(modal.instance, step));
    info(c, `${modal.instance} is stopped.`);
  } catch (e) {
    failWith(c, e);
  }
}
