// Instance lifecycle from the CLI side: start (VM, then its agent), stop (through the agent,
// or directly when there is none), and the instance list.
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { defaultDriverName, getDriver } from "../../drivers/index.ts";
import { requireVmLifecycle, type Progress } from "../../drivers/driver.ts";
import type { InstanceSummary } from "../agent/api.ts";
import { loadJournal } from "../agent/journal.ts";
import { HotmountError } from "../core/errors.ts";
import { type InstanceConfig, InstanceConfig as InstanceConfigSchema, InstanceName, readInstanceConfig } from "../core/instance-config.ts";
import { instancePaths, instancesDir } from "../core/paths.ts";
import { ensureSshKey } from "../core/ssh-key.ts";
import { demoGuestAppend, GUEST_USER } from "../guest-image/contract.ts";
import { hostGuestArch } from "../guest-image/arch.ts";
import { ensureDemoGuest } from "../guest-image/demo-guest.ts";
import { withLock } from "../util/lock.ts";
import { isAlive, readPidFile, removeQuietly, terminate, waitUntil } from "../util/process.ts";
import { AgentClient } from "./agent-client.ts";
import { agentAnswers, agentGone, startAgent } from "./agent-supervisor.ts";
import { discoveredSummaries, foreignSummary, isDiscoveredRegistration, startExternal } from "./external-vms.ts";
import { ensureHome } from "./home.ts";
import { parseStaticMounts } from "./static-mounts.ts";
import type { StartOptions } from "./types.ts";

export function checkName(name: string): string {
  const r = InstanceName.safeParse(name);
  if (!r.success)
    throw new HotmountError("INVALID_ARGUMENT", `invalid instance name "${name}": ${r.error.issues[0]?.message}`, { hint: "Example: hotmount vm start dev" });
  return name;
}

async function buildConfig(name: string, f: StartOptions, progress: Progress): Promise<InstanceConfig> {
  const prev = existsSync(instancePaths(name).config) ? readInstanceConfig(name) : null;
  const key = ensureSshKey();
  let kernel = f.kernel ?? prev?.kernel;
  let initrd = f.initrd ?? prev?.initrd;
  let append = f.append ?? prev?.append;
  // A disk image: asked for now, or the previous start's (unless a bare --kernel replaces it).
  const imageName = f.image ?? (f.kernel ? undefined : prev?.image);
  const img = imageName
    ? await (
        await import("../guest-image/debian/instance.ts")
      ).prepareImageInstance(name, imageName, {
        publicKeyLine: key.publicKeyLine,
        kernel: f.kernel,
        initrd: f.initrd,
        append: f.append,
        prev: prev ?? undefined,
        progress,
      })
    : null;
  if (img) ({ kernel, initrd, append } = img);
  const demo = !img && !f.kernel && (!prev || prev.append.includes("hotmount.sshkey="));
  const arch = f.arch ?? prev?.arch ?? hostGuestArch();
  if (img && arch !== "x86_64") {
    throw new HotmountError("UNSUPPORTED", "--image is x86_64 only", { hint: "Boot the aarch64 demo guest: omit --image." });
  }
  if (demo) {
    const g = await ensureDemoGuest({ onProgress: progress, arch });
    kernel = g.kernel;
    initrd = g.initrd;
    append = demoGuestAppend(key.publicKeyLine, undefined, arch);
  }
  if (!kernel) throw new HotmountError("USAGE", "no kernel to boot", { hint: "Omit --kernel to boot the demo guest, or pass --kernel K --initrd I." });
  return InstanceConfigSchema.parse({
    name,
    driver: f.driver ?? prev?.driver ?? defaultDriverName(),
    memoryMiB: f.memoryMiB ?? prev?.memoryMiB ?? 512,
    cpus: f.cpus ?? prev?.cpus ?? 2,
    slots: f.slots ?? prev?.slots ?? 8,
    ninePSlots: f.ninePSlots ?? prev?.ninePSlots ?? 4,
    kernel,
    initrd,
    append: append ?? "",
    accel: f.accel ?? prev?.accel ?? "auto",
    ssh: { host: "127.0.0.1", port: 0, user: img?.user ?? (demo ? GUEST_USER : (prev?.ssh.user ?? "root")), identityFile: key.privateKey },
    staticMounts: f.mounts?.length ? parseStaticMounts(f.mounts) : (prev?.staticMounts ?? []),
    persistentMounts: prev?.persistentMounts ?? [],
    ...(img ? { image: img.image, disk: img.disk, seed: img.seed } : {}),
    ...(arch !== "x86_64" ? { arch } : {}),
  });
}

export async function startInstance(name: string, flags: StartOptions, progress: Progress): Promise<void> {
  checkName(name);
  ensureHome();
  // A Lima instance or an adopted QEMU: attach an agent if it runs; never boot it from here.
  if (await startExternal(name, progress)) return;
  const paths = instancePaths(name);
  mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
  await withLock(paths.lock, `instance "${name}"`, async () => {
    const cfg = await buildConfig(name, flags, progress);
    const driver = getDriver(cfg.driver);
    if ((await driver.status(cfg)).state === "running") {
      if (await agentAnswers(name)) {
        throw new HotmountError("INSTANCE_ALREADY_RUNNING", `instance "${name}" is already running`, {
          hint: `Stop it first with \`hotmount vm stop ${name}\`.`,
        });
      }
      // The VM runs but its agent died: start a new agent, which reconciles from the journal.
      progress("the VM is running without its agent: restarting the agent");
      await startAgent(name);
      return;
    }
    const lifecycle = requireVmLifecycle(driver, cfg, "start");
    if (lifecycle.vmLivesInCaller) {
      progress("starting the agent, which boots the VM");
      await startAgent(name, 300_000);
      return;
    }
    await lifecycle.start(cfg, progress);
    try {
      progress("starting the agent");
      await startAgent(name);
    } catch (e) {
      await lifecycle.stop(cfg, progress).catch(() => {});
      throw e;
    }
  });
}

export async function stopInstance(name: string, progress: Progress): Promise<void> {
  checkName(name);
  const cfg = readInstanceConfig(name);
  const paths = instancePaths(name);
  await withLock(
    paths.lock,
    `instance "${name}"`,
    async () => {
      const agentPid = readPidFile(paths.agentPid);
      const client = new AgentClient(name);
      if (agentPid && isAlive(agentPid) && client.present) {
        progress("removing mounts and powering off");
        try {
          await client.stopVm();
          await waitUntil(() => !isAlive(agentPid), 10_000);
        } catch {
          // fall through to the direct path below
        }
      }
      if (agentPid && isAlive(agentPid)) await terminate(agentPid, 2000);
      await requireVmLifecycle(getDriver(cfg.driver), cfg, "stop").stop(cfg, progress);
      removeQuietly(paths.agentSock, paths.agentPid);
    },
    30_000,
  );
}

export interface SummarizeOptions {
  /** Called for a running VM whose agent process is gone, before its agent is asked (see client/local-client.ts). */
  revive?: (name: string) => Promise<unknown>;
}

export async function listInstances(opts: SummarizeOptions = {}): Promise<InstanceSummary[]> {
  const dir = instancesDir();
  // VMs a driver discovers (Lima's, registered or not) come from that driver, the rest from hotmount's own dirs.
  const names = existsSync(dir)
    ? readdirSync(dir)
        .filter((n) => existsSync(instancePaths(n).config) && !isDiscoveredRegistration(n))
        .sort()
    : [];
  const one = (n: string) => summarize(n, opts);
  const all = [...(await Promise.all(names.map(one))), ...(await discoveredSummaries(one))];
  return all.sort((a, b) => a.name.localeCompare(b.name));
}

/** How many mounts the journal and the config's static shares name: what a running VM has while its agent cannot say. */
function journaledMounts(cfg: InstanceConfig): number {
  let journaled = 0;
  try {
    journaled = loadJournal(instancePaths(cfg.name).journal).length;
  } catch {} // a newer hotmount's journal (VERSION_MISMATCH): listed without its mounts
  return journaled + cfg.staticMounts.length;
}

export async function summarize(name: string, opts: SummarizeOptions = {}): Promise<InstanceSummary> {
  const discovered = await foreignSummary(name);
  if (discovered) return discovered;
  const cfg = readInstanceConfig(name);
  const st = await getDriver(cfg.driver).status(cfg);
  const base: InstanceSummary = {
    name,
    driver: cfg.driver,
    state: st.state,
    pid: st.pid,
    accel: st.accel,
    ssh: st.state === "running" ? cfg.ssh : null,
    slots: { total: cfg.slots, used: 0 },
    transports: [],
    mounts: 0,
  };
  if (st.state !== "running") return base;
  // A listing must still list: an agent that cannot be brought back shows as broken below.
  if (opts.revive && agentGone(name)) await opts.revive(name).catch(() => {});
  const client = new AgentClient(name);
  try {
    const info = await client.info(5000);
    const mounts = await client.mounts();
    return { ...base, state: info.state, slots: info.slots, transports: info.transports, mounts: mounts.length };
  } catch {
    return { ...base, state: "broken", transports: [], mounts: journaledMounts(cfg) };
  }
}
