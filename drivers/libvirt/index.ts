// The libvirt driver: domains that libvirt runs (virt-manager, virsh, GNOME Boxes, Vagrant's
// libvirt provider), seen from hotmount. libvirt starts and stops them; hotmount discovers them,
// attaches an agent to a running one on first use, and hot-plugs virtiofs through libvirt.
import { existsSync, mkdirSync } from "node:fs";
import { HotmountError } from "../../src/core/errors.ts";
import { type InstanceConfig, InstanceConfig as InstanceConfigSchema, readInstanceConfig, writeInstanceConfig } from "../../src/core/instance-config.ts";
import { instancePaths } from "../../src/core/paths.ts";
import type { Driver, RuntimeStatus, VmDiscovery } from "../driver.ts";
import { isAlive, readPidFile } from "../../src/util/process.ts";
import { SYSTEM_URI } from "../../src/util/virsh.ts";
import { virshRunner } from "../../src/util/virsh-shell.ts";
import { discoveredVm, domainByHmName, hmNameFor, libvirtInstanceConfig, listDomains, toState } from "./discovery.ts";
import { libvirtRef } from "./libvirt-ref.ts";
import { LibvirtSession } from "./libvirt-session.ts";
import { type SavedLogin, savedLogin, saveLogin, type SshLogin, sshLogin } from "./ssh-login.ts";

/**
 * Cheap (one `virsh dominfo`, in the agent's virsh shell): the agent asks every second, and leaves when this says the VM is
 * gone, so only libvirt's own word makes a domain stopped (no such domain, shut off, another UUID
 * under the name). When virsh cannot answer (libvirtd restarting, a slow host), QEMU's pid file
 * that libvirt keeps decides.
 */
async function status(cfg: InstanceConfig): Promise<RuntimeStatus> {
  const ref = libvirtRef(cfg);
  const r = await virshRunner(ref.uri)(["dominfo", ref.domain], { timeoutMs: 20_000 });
  const field = (k: string) => new RegExp(`^${k}:\\s*(.*)$`, "m").exec(r.stdout)?.[1]?.trim() ?? "";
  const qemuPid = () => {
    const pid = ref.uri === SYSTEM_URI ? readPidFile(`/run/libvirt/qemu/${ref.domain}.pid`) : null;
    return pid && isAlive(pid) ? pid : null;
  };
  if (r.code !== 0) {
    if (/failed to get domain|Domain not found|no domain with matching/i.test(r.stderr)) return { state: "stopped", pid: null, accel: null };
    const pid = qemuPid();
    return pid || ref.uri !== SYSTEM_URI ? { state: "running", pid, accel: null } : { state: "stopped", pid: null, accel: null };
  }
  if (field("UUID") !== ref.uuid) return { state: "stopped", pid: null, accel: null };
  const state = toState(field("State"));
  return { state, pid: state === "running" ? qemuPid() : null, accel: cfg.accel === "auto" ? null : cfg.accel };
}

function ownerHint(cfg: InstanceConfig): string {
  const r = cfg.libvirt;
  return r ? `virsh -c ${r.uri}` : "virsh";
}

export const libvirtDriver: Driver & VmDiscovery = {
  name: "libvirt",
  status,
  /** libvirt starts and stops its domains: hotmount only attaches (and detaches after its mounts are gone). */
  lifecycleRefusal(cfg, op) {
    const domain = cfg.libvirt?.domain ?? cfg.name;
    return op === "start"
      ? new HotmountError("UNSUPPORTED", `"${cfg.name}" is a libvirt domain: libvirt starts it, not hotmount`, {
          hint: `Start it with \`${ownerHint(cfg)} start ${domain}\`; hotmount attaches on the next \`mount add\`.`,
        })
      : new HotmountError(
          "UNSUPPORTED",
          `hotmount removed its mounts from libvirt domain "${domain}" and detached; the domain belongs to libvirt and keeps running`,
          {
            hint: `Stop it with \`${ownerHint(cfg)} shutdown ${domain}\`.`,
          },
        );
  },
  openSession: (cfg, log) => LibvirtSession.open(cfg, log),
  async discover() {
    return (await listDomains()).map((d) => discoveredVm(d));
  },
  /** Writes instance.json for a running domain called `name` in hotmount; null when there is no such domain. */
  async register(name) {
    const d = await domainByHmName(name);
    if (!d) return null;
    if (d.state !== "running") {
      throw new HotmountError("INSTANCE_NOT_RUNNING", `libvirt domain "${d.view.name}" is not running (${d.libvirtState})`, {
        hint: `Start it with libvirt: virsh -c ${d.uri} start ${d.view.name}`,
      });
    }
    let prev: InstanceConfig | null = null;
    try {
      if (existsSync(instancePaths(name).config)) prev = readInstanceConfig(name);
    } catch {}
    const cfg = InstanceConfigSchema.parse({ ...libvirtInstanceConfig(d), persistentMounts: prev?.persistentMounts ?? [] });
    mkdirSync(instancePaths(name).dir, { recursive: true, mode: 0o700 });
    writeInstanceConfig(cfg);
    return cfg;
  },
};

/**
 * `hotmount libvirt ssh`: saves (or clears) the SSH login for one domain and returns the login
 * that now applies. A registered domain's instance config follows at once, so the next agent of
 * the domain uses it; a running agent keeps its SSH session until it is restarted.
 */
export function setLibvirtSshLogin(uri: string, domain: string, login: SavedLogin | null): SshLogin & { instance: string; agentRunning: boolean } {
  if (login?.identityFile && !existsSync(login.identityFile)) {
    throw new HotmountError("INVALID_ARGUMENT", `no key file ${login.identityFile}`, {
      hint: "Pass the private key's path to --identity (e.g. ~/.ssh/id_ed25519).",
    });
  }
  if (login) saveLogin(uri, domain, { ...savedLogin(uri, domain), ...login });
  else saveLogin(uri, domain, null);
  const now = sshLogin(uri, domain);
  const instance = hmNameFor(domain, uri);
  let agentRunning = false;
  if (existsSync(instancePaths(instance).config)) {
    const cfg = readInstanceConfig(instance);
    if (cfg.external === "libvirt" && cfg.libvirt?.domain === domain && cfg.libvirt.uri === uri) {
      writeInstanceConfig({ ...cfg, ssh: { ...cfg.ssh, user: now.user, identityFile: now.identityFile } });
      const pid = readPidFile(instancePaths(instance).agentPid);
      agentRunning = !!pid && isAlive(pid);
    }
  }
  return { ...now, instance, agentRunning };
}
