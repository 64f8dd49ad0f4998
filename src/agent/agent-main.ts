// `hotmount agent NAME`: one per running instance. It owns the driver session (QMP), the
// backend processes and the mount registry, and serves the API on the instance's socket.
import { rmSync, writeFileSync } from "node:fs";
import { getDriver } from "../../drivers/index.ts";
import { asFSHotPlugger, asVmLifecycle, type Driver } from "../../drivers/driver.ts";
import { buildInfo } from "../core/build-info.ts";
import { readInstanceConfig } from "../core/instance-config.ts";
import { HotmountError } from "../core/errors.ts";
import { jsonLogger } from "../core/log.ts";
import { enableTrace, traceGuest, traceStep } from "../core/trace.ts";
import { instancePaths } from "../core/paths.ts";
import { type GuestExec, guestExecFor } from "../guest-exec/index.ts";
import type { GuestSsh } from "../guest-exec/ssh-client.ts";
import { cmdlineOf, isAlive, readPidFile, sleep } from "../util/process.ts";
import { enableVirshShells } from "../util/virsh-shell.ts";
import type { Info, TransportAvailability } from "./api.ts";
import { Activity } from "./activity.ts";
import { AGENT } from "./audit-log.ts";
import { MountService } from "./mount-service.ts";
import { PersistentMounts } from "./persistent-mounts.ts";
import { reconcile } from "./reconcile.ts";
import { serveAgent } from "./server.ts";
import { SshGate } from "./ssh-gate.ts";
import { watchHooks } from "./watch/hooks.ts";
import { mountStaticShares } from "./static-mounts.ts";
import { endMountsOfStoppedVm } from "./vm-stopped.ts";
import { GuestHealth } from "./guest-health.ts";
import { healDeadBackend } from "./heal.ts";
import { hostFolderChecker } from "./host-folder.ts";

const GUEST_CHECK_MS = 3000;

export async function runAgent(name: string): Promise<void> {
  const cfg = readInstanceConfig(name);
  const paths = instancePaths(name);
  const log = jsonLogger();
  const tracing = process.env.HOTMOUNT_TRACE === "1";
  if (tracing) enableTrace(log);
  const startedAt = new Date().toISOString();
  // One agent per instance, whoever starts it (vm start, a command that revives it, a service
  // manager): a second one would fight the first for QEMU's one QMP connection.
  const other = readPidFile(paths.agentPid);
  if (other && other !== process.pid && isAlive(other) && cmdlineOf(other).includes("agent")) {
    throw new HotmountError("INSTANCE_ALREADY_RUNNING", `the agent of "${name}" already runs (pid ${other})`, {
      hint: "Nothing to do: one agent serves the instance. Under a service manager, do not restart on this exit code (5).",
      details: { pid: other },
    });
  }
  writeFileSync(paths.agentPid, String(process.pid));
  log.info("agent starting", { instance: name, pid: process.pid });

  // libvirt calls through one long-lived virsh per URI rather than a virsh process each.
  enableVirshShells();
  const driver = getDriver(cfg.driver);
  const lifecycle = asVmLifecycle(driver);
  if (lifecycle?.vmLivesInCaller) await lifecycle.start(cfg, (step) => log.info(step));
  const session = await openWithRetry(() => driver.openSession(cfg, log), 30_000);

  // One SSH connection, made when first needed; a login that fails is remembered (ssh-gate.ts).
  // Tried once at start, so that the first watch set-up finds its outcome known.
  const sshGate = new SshGate(cfg, log);
  const getSsh = (): Promise<GuestSsh> => sshGate.get();
  void getSsh().catch(() => {});
  // Chosen per operation (a qemu-guest-agent may stop or come back); the log says when it changes.
  let guestVia: string | null = null;
  const getGuest = async (): Promise<GuestExec> => {
    const g = tracing ? timedGuest(await traceGuest(() => guestExecFor(cfg, getSsh))) : await guestExecFor(cfg, getSsh);
    if (g.via !== guestVia) log.info(`guest commands via ${g.via}`, g.why ? { why: g.why } : undefined);
    guestVia = g.via;
    return g;
  };

  // The watch can do without SSH: it takes a remembered failure of any kind at once.
  const watch = watchHooks(() => sshGate.get({ patient: false }), log);
  const activity = new Activity({ allRecords: () => service.allRecords(), expire: (id) => service.expire(id) }, name, log);
  const service: MountService = new MountService(
    {
      cfg,
      session,
      ssh: getSsh,
      guest: getGuest,
      log,
      markFailed: (id, m, h) => service.markFailed(id, m, h),
      bootId: () => health.currentBoot,
    },
    {
      changes: activity,
      watch: tracing ? { ...watch.hooks, ready: (r) => (traceStep("replay set-up"), watch.hooks.ready(r)) } : watch.hooks,
      persistent: new PersistentMounts(cfg, log),
    },
  );
  // A guest reboot (or a umount behind our back) removes mounts: notice, say so, mount them again.
  const health: GuestHealth = new GuestHealth(service, getGuest, log, (message) => activity.events.emit("guest-rebooted", { message }));
  // A backend that dies under its device (a killed virtiofsd): failed at once, then brought back (heal.ts).
  asFSHotPlugger(session)?.onDeviceLost?.(healDeadBackend({ service, guest: getGuest, log, instance: name }));
  const restarted = activity.events.lastSeq > 0;
  const before = service.allRecords().length;
  await reconcile(service, session, getGuest, log)
    .then(() => activity.audit.record("reconcile", AGENT, undefined, { message: `${before} journaled mount(s), ${service.allRecords().length} kept` }))
    .catch((e) => {
      log.error("reconcile failed", { error: String(e) });
      activity.audit.record("reconcile", AGENT, undefined, { error: e });
    });
  activity.events.emit("agent-started", {
    message: `${restarted ? "agent restarted" : "agent started"} (pid ${process.pid}), ${service.allRecords().length} mount(s) kept`,
  });
  // Grants that ran out while no agent was running are carried out now.
  activity.armGrants();
  void health.check();
  for (const r of service.allRecords()) if (r.state === "ready") void watch.hooks.ready(r);
  // In the background: the API answers at once, and the persistent mounts queue behind.
  void service.reapplyPersistent((s) => log.info(s)).catch((e) => log.error("persistent mounts failed", { error: String(e) }));
  if (cfg.staticMounts.length) {
    service.setStatic(
      await getGuest()
        .then((g) => mountStaticShares(cfg, g, log, startedAt))
        .catch((e) => (log.error("static shares failed", { error: String(e) }), [])),
    );
  }

  let stopping = false;
  const exit = async (code: number) => {
    activity.grants.stopAll();
    activity.events.closeAll();
    server.stop(true);
    await watch.stopAll();
    rmSync(paths.agentSock, { force: true });
    rmSync(paths.agentPid, { force: true });
    sshGate.close();
    await session.close();
    log.info("agent exiting", { code });
    process.exit(code);
  };

  const info = async (): Promise<Info> => {
    const hp = asFSHotPlugger(session);
    const transports = await session.transports();
    const status = await driver.status(cfg);
    return {
      instance: name,
      driver: cfg.driver,
      state: stopping ? "stopping" : status.state,
      pid: status.pid,
      accel: status.accel,
      ssh: cfg.ssh,
      slots: hp ? await hp.capacity() : { total: 0, used: 0 },
      transports,
      agent: { pid: process.pid, version: buildInfo().version, startedAt },
    };
  };

  const server = serveAgent(paths.agentSock, {
    info,
    inventory: async () => asFSHotPlugger(session)?.inventory() ?? { devices: [], backends: [] },
    mounts: service,
    activity,
    stopVm: async () => {
      stopping = true;
      await service.teardownAll((s) => log.info(s));
      await session.powerOff((s) => log.info(s));
      setTimeout(() => void exit(0), 50);
    },
  });
  log.info("agent ready", { socket: paths.agentSock });

  // The VM went away (guest poweroff, crash): nothing left to serve.
  watchVm(cfg, driver, async () => {
    if (!stopping) {
      log.warn("the VM is gone; agent exits");
      stopping = true;
      await endMountsOfStoppedVm(service, session, log, "the VM stopped").catch((e) => log.error("cleanup after the VM stopped failed", { error: String(e) }));
    }
    void exit(0);
  });
  const hostFolders = hostFolderChecker(service, getGuest);
  const checks = setInterval(() => void (stopping ? null : Promise.all([health.check(), hostFolders()])), GUEST_CHECK_MS);
  checks.unref();
  process.on("SIGTERM", () => void exit(0));
  process.on("SIGINT", () => void exit(0));
}

/** With HOTMOUNT_TRACE=1: each guest command counts in the current operation's timings. */
function timedGuest(g: GuestExec): GuestExec {
  return { via: g.via, why: g.why, exec: (a, o) => traceGuest(() => g.exec(a, o)), run: (a, o) => traceGuest(() => g.run(a, o)) };
}

function watchVm(cfg: ReturnType<typeof readInstanceConfig>, driver: Driver, onGone: () => Promise<void>): void {
  // One check at a time (a status call may outlast the interval), and onGone once.
  let busy = false;
  const t = setInterval(async () => {
    if (busy) return;
    busy = true;
    const st = await driver.status(cfg).finally(() => (busy = false));
    if (st.state !== "running") {
      clearInterval(t);
      busy = true;
      void onGone();
    }
  }, 1000);
}

async function openWithRetry<T>(fn: () => Promise<T>, deadlineMs: number): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > end) throw e;
      await sleep(200);
    }
  }
}
