// Instance lifecycle from the CLI side: start (VM, then its agent), stop (through the agent,
// or directly when there is none), and the instance list.
import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readdirSync } from "node:fs";
import { defaultDriverName, getDriver } from "../../drivers/index.ts";
import type { Progress } from "../../drivers/driver.ts";
import type { InstanceSummary } from "../agent/api.ts";
import { HotmountError } from "../core/errors.ts";
import { type InstanceConfig, InstanceConfig as InstanceConfigSchema, InstanceName, readInstanceConfig } from "../core/instance-config.ts";
import { hotmountHome, instancePaths, instancesDir, sshDir } from "../core/paths.ts";
import { checkStateDir } from "../core/state-dir.ts";
import { ensureSshKey } from "../core/ssh-key.ts";
import { demoGuestAppend, GUEST_USER } from "../guest/contract.ts";
import { ensureDemoGuest } from "../guest/demo-guest.ts";
import { withLock } from "../util/lock.ts";
import { isAlive, readPidFile, removeQuietly, tailFile, terminate, waitUntil } from "../util/process.ts";
import { AgentClient } from "./agent-client.ts";
import { selfArgv } from "./self.ts";
import { parseStaticMounts } from "./static-mounts.ts";
import type { StartOptions } from "./types.ts";

export interface StartFlags extends StartOptions {
  ninePSlots?: number;
  kernel?: string;
  initrd?: string;
  append?: string;
  accel?: "auto" | "kvm" | "tcg";
  driver?: string;
  /** `--mount HOST:GUEST[:ro]` values: static virtiofs shares; absent keeps the previous ones. */
  mounts?: string[];
  /** `--image debian|PATH`: boot a disk image (cloud-init, user dev) instead of the demo guest. */
  image?: string;
}

export function checkName(name: string): string {
  const r = InstanceName.safeParse(name);
  if (!r.success)
    throw new HotmountError("INVALID_ARGUMENT", `invalid instance name "${name}": ${r.error.issues[0]?.message}`, { hint: "Example: hotmount vm start dev" });
  return name;
}

/** Creates the state directory, then refuses it if other users could write to it (see core/state-dir.ts). */
export function ensureHome(): void {
  const home = hotmountHome();
  mkdirSync(home, { recursive: true, mode: 0o700 });
  // hotmountHome() checked it before it existed; check what is there now.
  checkStateDir(home, [instancesDir(), sshDir()], instancesDir());
}

async function buildConfig(name: string, f: StartFlags, progress: Progress): Promise<InstanceConfig> {
  const prev = existsSync(instancePaths(name).config) ? readInstanceConfig(name) : null;
  const key = ensureSshKey();
  let kernel = f.kernel ?? prev?.kernel;
  let initrd = f.initrd ?? prev?.initrd;
  let append = f.append ?? prev?.append;
  // A disk image: asked for now, or the previous start's (unless a bare --kernel replaces it).
  const imageName = f.image ?? (f.kernel ? undefined : prev?.image);
  const img = imageName
    ? await (
        await import("../guest/debian/instance.ts")
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
  if (demo) {
    const g = await ensureDemoGuest({ onProgress: progress });
    kernel = g.kernel;
    initrd = g.initrd;
    append = demoGuestAppend(key.publicKeyLine);
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
  });
}

export async function startInstance(name: string, flags: StartFlags, progress: Progress): Promise<void> {
  checkName(name);
  ensureHome();
  // A Lima instance or an adopted QEMU: attach an agent if it runs; never boot it from here.
  if (await (await import("./foreign.ts")).startExternal(name, progress)) return;
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
    if (driver.vmLivesInCaller) {
      progress("starting the agent, which boots the VM");
      await startAgent(name, 300_000);
      return;
    }
    await driver.start(cfg, progress);
    try {
      progress("starting the agent");
      await startAgent(name);
    } catch (e) {
      await driver.stop(cfg, progress).catch(() => {});
      throw e;
    }
  });
}

async function agentAnswers(name: string): Promise<boolean> {
  try {
    await new AgentClient(name).info(3000);
    return true;
  } catch {
    return false;
  }
}

export async function startAgent(name: string, readyWithinMs = 60_000): Promise<void> {
  const paths = instancePaths(name);
  const old = readPidFile(paths.agentPid);
  if (old && isAlive(old)) await terminate(old, 2000);
  removeQuietly(paths.agentSock);
  const fd = openSync(paths.agentLog, "a");
  const argv = [...selfArgv(), "agent", name];
  const child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ["ignore", fd, fd], env: { ...process.env } });
  closeSync(fd);
  child.unref();
  const client = new AgentClient(name);
  const ok = await waitUntil(
    async () => {
      if (child.exitCode !== null) return true;
      try {
        await client.info(2000);
        return true;
      } catch {
        return false;
      }
    },
    readyWithinMs,
    100,
  );
  if (!ok || child.exitCode !== null) {
    throw new HotmountError("VM_START_FAILED", `the agent of "${name}" did not start`, { hint: `Its log says:\n${tailFile(paths.agentLog, 8)}` });
  }
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
      await getDriver(cfg.driver).stop(cfg, progress);
      removeQuietly(paths.agentSock, paths.agentPid);
    },
    30_000,
  );
}

export async function listInstances(): Promise<InstanceSummary[]> {
  const dir = instancesDir();
  const { isLibvirtRegistration, isLimaRegistration, libvirtSummaries, limaSummaries } = await import("./foreign.ts");
  // Lima instances come from $LIMA_HOME (registered or not), the rest from hotmount's own dirs.
  const names = existsSync(dir)
    ? readdirSync(dir)
        .filter((n) => existsSync(instancePaths(n).config) && !isLimaRegistration(n) && !isLibvirtRegistration(n))
        .sort()
    : [];
  const all = [...(await Promise.all(names.map(summarize))), ...(await limaSummaries(summarize)), ...(await libvirtSummaries(summarize))];
  return all.sort((a, b) => a.name.localeCompare(b.name));
}

export async function summarize(name: string): Promise<InstanceSummary> {
  const foreign = await import("./foreign.ts");
  const lima = foreign.foreignSummary(name) ?? (await foreign.libvirtForeignSummary(name));
  if (lima) return lima;
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
  const client = new AgentClient(name);
  try {
    const info = await client.info(5000);
    const mounts = await client.mounts();
    return { ...base, state: info.state, slots: info.slots, transports: info.transports, mounts: mounts.length };
  } catch {
    return { ...base, state: "broken", transports: [] };
  }
}
