// The agent's session on a libvirt domain. libvirt owns the domain's QEMU and its monitor, so
// every device change goes through libvirt (virsh attach-device/detach-device --live), and the
// live domain XML is the inventory. In the agent the calls go through one virsh shell per URI
// (src/util/virsh-shell.ts). virtiofs only: libvirt cannot hot-plug 9p. The domain
// belongs to libvirt: hotmount never starts or stops it.
import { writeFileSync } from "node:fs";
import type { TransportAvailability } from "../../src/core/model.ts";
import { HotmountError } from "../../src/core/errors.ts";
import type { InstanceConfig } from "../../src/core/instance-config.ts";
import { hotmountHome, instancePaths } from "../../src/core/paths.ts";
import { traceStep } from "../../src/core/trace.ts";
import { isMountId } from "../../src/core/validate.ts";
import { sleep } from "../../src/util/process.ts";
import { portSlotPowerOffArgv } from "../../src/guest-exec/pci-slot.ts";
import { virshMessage } from "../../src/util/virsh.ts";
import { virshRunner } from "../../src/util/virsh-shell.ts";
import type { DeviceInventory, DriverSession, FSHotPlugger, GuestRunner, Logger, PluggedDevice, PlugRequest, Progress } from "../driver.ts";
import { domainArch, fsAlias, idOfAlias, parseDomain, parseFilesystems, rootPortAddress, virtiofsXml, type DomainView } from "./domain-xml.ts";
import { libvirtRef, type LibvirtRef } from "./libvirt-ref.ts";
import { daemonVersion, daemonVersionSync, isSessionUri, sessionVirtiofsProblem, userIdMap } from "./session-virtiofs.ts";
import type { Virtiofsd } from "../qemu/host-tools.ts";
import { libvirtVirtiofsd, markedVirtiofsd, reapVirtiofsd, removeWrapper, writeWrapper } from "./virtiofsd-wrapper.ts";

/** How long libvirt may take to report a detached device gone (the guest must acknowledge the unplug). */
export const DEVICE_REMOVED_TIMEOUT_MS = 20_000;
const VIEW_TTL_MS = 1000;

export const NINEP_REFUSAL =
  "libvirt cannot hot-plug 9p filesystems: it adds a 9p <filesystem> only when the domain starts, and refuses attach-device --live for it";
export const NINEP_HINT = "Use --type virtiofs (hot-pluggable through libvirt) or --type reverse-sshfs (needs SSH into the guest).";

/** Why the domain itself cannot take a virtiofs hot-plug now (its memory, its root ports; the host's `vfsd`), or null. */
function domainVirtiofsProblem(v: DomainView, vfsd: Virtiofsd | null): string | null {
  if (!v.sharedMemory)
    return "the domain's RAM is not shared memory (needs <memoryBacking><source type='memfd'/><access mode='shared'/>; see `hotmount libvirt prepare`)";
  if (!vfsd) return "virtiofsd is not installed on the host";
  if (v.freeRootPorts.length === 0) {
    return v.rootPorts.length === 0
      ? "the domain has no pcie-root-port to hot-plug into (see `hotmount libvirt prepare --slots N`)"
      : `no free PCIe root port: all ${v.rootPorts.length} are taken (see \`hotmount libvirt prepare --slots N\`)`;
  }
  return null;
}

/**
 * Why virtiofs cannot be hot-plugged into this domain now, or null when it can. A session URI
 * needs the daemon's version (libvirt >= 10, drivers/libvirt/session-virtiofs.ts): `daemon` when
 * the caller has it, else asked here once.
 */
export function virtiofsProblem(v: DomainView, uri: string, daemon?: number | null, vfsd = libvirtVirtiofsd()): string | null {
  const session = isSessionUri(uri) ? sessionVirtiofsProblem(daemon === undefined ? daemonVersionSync(uri) : daemon, vfsd) : null;
  return session ?? domainVirtiofsProblem(v, vfsd);
}

export function libvirtTransports(v: DomainView, uri: string, ssh: boolean, daemon?: number | null): TransportAvailability[] {
  const vp = virtiofsProblem(v, uri, daemon);
  return [
    vp ? { type: "virtiofs", available: false, reason: vp } : { type: "virtiofs", available: true },
    { type: "9p", available: false, reason: NINEP_REFUSAL },
    ssh
      ? { type: "reverse-sshfs", available: true }
      : {
          type: "reverse-sshfs",
          available: false,
          reason:
            "hotmount knows no SSH address for the guest: no hostfwd to port 22, and neither the guest agent, a libvirt DHCP lease nor the host's ARP table has an address for the domain's NICs",
        },
  ];
}

/**
 * On an aarch64 domain (virt: native PCIe hot-plug), the guest command that powers the slot of
 * device `alias` off at once instead of after pciehp's 5 s wait (src/guest-exec/pci-slot.ts).
 */
function slotPowerOff(xml: string, alias: string): string[] | null {
  if (domainArch(xml) !== "aarch64") return null;
  const bus = parseFilesystems(xml).find((f) => f.alias === alias)?.bus;
  const port = bus ? rootPortAddress(xml, bus) : null;
  return port ? portSlotPowerOffArgv(port) : null;
}

export class LibvirtSession implements DriverSession, FSHotPlugger {
  readonly driver = "libvirt";
  private readonly virsh: ReturnType<typeof virshRunner>;

  constructor(
    private readonly cfg: InstanceConfig,
    private readonly ref: LibvirtRef,
    private readonly log: Logger,
  ) {
    this.virsh = virshRunner(ref.uri);
  }

  static async open(cfg: InstanceConfig, log: Logger): Promise<LibvirtSession> {
    const ref = libvirtRef(cfg);
    const st = await virshRunner(ref.uri)(["domstate", ref.domain], { timeoutMs: 10_000 });
    if (st.code !== 0) throw new HotmountError("INSTANCE_NOT_FOUND", `libvirt domain "${ref.domain}" not found on ${ref.uri}: ${virshMessage(st)}`);
    if (!/running|paused/.test(st.stdout)) {
      throw new HotmountError("INSTANCE_NOT_RUNNING", `libvirt domain "${ref.domain}" is not running (${st.stdout.trim()})`, {
        hint: `Start it with libvirt: virsh -c ${ref.uri} start ${ref.domain}`,
      });
    }
    return new LibvirtSession(cfg, ref, log);
  }

  private cached: { at: number; view: Promise<DomainView> } | null = null;

  /** The daemon's version, which decides virtiofs in a session domain; system domains do not ask. */
  private daemon(): Promise<number | null> | undefined {
    return isSessionUri(this.ref.uri) ? daemonVersion(this.ref.uri, this.virsh) : undefined;
  }

  /** The live XML, read at most once per VIEW_TTL_MS for queries (info asks for transports and capacity together). */
  private viewCached(): Promise<DomainView> {
    if (!this.cached || Date.now() - this.cached.at > VIEW_TTL_MS) {
      const view = this.view();
      this.cached = { at: Date.now(), view };
      view.catch(() => (this.cached = null));
    }
    return this.cached.view;
  }

  async view(): Promise<DomainView> {
    return parseDomain(await this.liveXml());
  }

  private async liveXml(): Promise<string> {
    this.cached = null;
    const r = await this.virsh(["dumpxml", this.ref.domain], { timeoutMs: 15_000 });
    if (r.code !== 0) throw new HotmountError("INSTANCE_NOT_RUNNING", `cannot read libvirt domain "${this.ref.domain}": ${virshMessage(r)}`);
    return r.stdout;
  }

  async transports(): Promise<TransportAvailability[]> {
    return libvirtTransports(await this.viewCached(), this.ref.uri, this.cfg.ssh.port > 0, await this.daemon());
  }

  async capacity(): Promise<{ total: number; used: number }> {
    const v = await this.viewCached();
    const ours = v.filesystems.filter((f) => isMountId(idOfAlias(f.alias) ?? "")).length;
    return { total: v.freeRootPorts.length + ours, used: ours };
  }

  async plug(req: PlugRequest, progress: Progress): Promise<PluggedDevice> {
    if (req.type === "9p") throw new HotmountError("UNSUPPORTED", `${NINEP_REFUSAL}`, { hint: NINEP_HINT, details: { driver: "libvirt", type: "9p" } });
    const v = await this.view();
    const session = isSessionUri(this.ref.uri);
    const vfsd = libvirtVirtiofsd();
    const sessionProblem = session ? sessionVirtiofsProblem((await this.daemon()) ?? null, vfsd) : null;
    const problem = sessionProblem ?? domainVirtiofsProblem(v, vfsd);
    if (problem) {
      const noPort = !sessionProblem && v.sharedMemory && v.freeRootPorts.length === 0;
      throw new HotmountError(noPort ? "NO_FREE_SLOT" : "UNSUPPORTED", `cannot hot-plug virtiofs into libvirt domain "${this.ref.domain}": ${problem}`, {
        hint: noPort
          ? `Remove a mount, or give the domain more spare root ports: \`hotmount libvirt prepare ${this.ref.domain} --slots 8 --next-boot\`, then restart it. reverse-sshfs needs no slot.`
          : sessionProblem
            ? "Use --type reverse-sshfs (needs SSH into the guest), or run the domain in qemu:///system."
            : `Run \`hotmount libvirt prepare ${this.ref.domain}\` (applies at the next boot), or use --type reverse-sshfs.`,
      });
    }
    progress("attaching the device through libvirt");
    const binary = writeWrapper(this.cfg.name, req.id, {
      virtiofsd: vfsd!, // a missing one is a problem above
      source: req.hostPath,
      writable: req.writable,
      marker: `${this.ref.uuid}/${req.id}`,
      home: hotmountHome(),
    });
    const xmlFile = `${instancePaths(this.cfg.name).virtiofsdDir}/${req.id}.xml`;
    writeFileSync(xmlFile, virtiofsXml({ id: req.id, source: req.hostPath, binary, idmap: session ? userIdMap() : undefined }), { mode: 0o600 });
    const r = await this.virsh(["attach-device", this.ref.domain, xmlFile, "--live"], { timeoutMs: 30_000 });
    if (r.code !== 0) {
      removeWrapper(this.cfg.name, req.id);
      const msg = virshMessage(r);
      // libvirt may have started virtiofsd before QEMU refused the device.
      await reapVirtiofsd(this.ref.uuid, req.id, 500);
      if (/No more available PCI slots/i.test(msg)) {
        throw new HotmountError("NO_FREE_SLOT", `libvirt domain "${this.ref.domain}" has no free PCIe slot left: ${msg}`, {
          hint: `Remove a mount, or \`hotmount libvirt prepare ${this.ref.domain} --slots 8 --next-boot\` and restart the domain. reverse-sshfs needs no slot.`,
        });
      }
      throw new HotmountError("UNSUPPORTED", `libvirt refused to attach the virtiofs device: ${msg}`, { details: { stderr: r.stderr } });
    }
    try {
      const fs = (await this.view()).filesystems.find((f) => f.alias === fsAlias(req.id));
      if (!fs) throw new HotmountError("INTERNAL", `libvirt said the device was attached, but ${fsAlias(req.id)} is not in the live XML`);
      return { id: req.id, type: "virtiofs", tag: req.id, slot: fs.bus === null ? "pci" : `pci.${fs.bus}` };
    } catch (e) {
      await this.scrub(req.id).catch(() => {});
      throw e;
    }
  }

  async unplug(dev: PluggedDevice, progress: Progress, guest?: GuestRunner): Promise<void> {
    progress("detaching the device through libvirt");
    await this.detachAndWait(dev.id, guest);
    progress("waiting for virtiofsd to exit");
    await reapVirtiofsd(this.ref.uuid, dev.id);
    removeWrapper(this.cfg.name, dev.id);
  }

  /** detach-device-alias --live, then the device-removed wait: the alias gone from the live XML, bounded. */
  private async detachAndWait(id: string, guest?: GuestRunner): Promise<void> {
    const alias = fsAlias(id);
    const present = async () => (await this.view()).filesystems.some((f) => f.alias === alias);
    const xml = await this.liveXml();
    if (!parseFilesystems(xml).some((f) => f.alias === alias)) return;
    const powerOff = guest ? slotPowerOff(xml, alias) : null;
    const detaching = this.virsh(["detach-device-alias", this.ref.domain, alias, "--live"], { timeoutMs: 30_000 });
    if (guest && powerOff) {
      // Either order works: after the button press pciehp cancels its wait; before it, QEMU
      // unplugs the powered-off device and libvirt drops it on DEVICE_DELETED.
      await sleep(300);
      await guest(powerOff).catch((e) => this.log.warn("the guest could not power the slot off; waiting for pciehp", { id, error: String(e) }));
    }
    const r = await detaching;
    // After a power-off from the guest, libvirt may refuse a device QEMU has just dropped while it
    // has not yet processed the DEVICE_DELETED: the wait below decides.
    if (r.code !== 0 && !(guest && powerOff) && (await present())) {
      throw new HotmountError("INTERNAL", `libvirt could not detach ${alias}: ${virshMessage(r)}`, {
        hint: "See the domain's log under /var/log/libvirt/qemu/.",
      });
    }
    traceStep("waiting for libvirt's device-removed");
    const end = Date.now() + DEVICE_REMOVED_TIMEOUT_MS;
    // Each look is one command in the agent's virsh shell (milliseconds), so the wait ends soon after the guest lets go.
    for (let d = 10; await present(); d = Math.min(50, d * 2)) {
      if (Date.now() > end) {
        throw new HotmountError("TIMEOUT", `the guest did not release ${alias} within ${DEVICE_REMOVED_TIMEOUT_MS / 1000} s`, {
          hint: "The guest must acknowledge a PCIe unplug; a hung or busy guest delays it. Retry the remove later.",
        });
      }
      await sleep(d);
    }
  }

  async scrub(id: string): Promise<void> {
    await this.detachAndWait(id).catch((e) => this.log.warn("scrub: detach failed", { id, error: String(e) }));
    await reapVirtiofsd(this.ref.uuid, id, 1000);
    removeWrapper(this.cfg.name, id);
  }

  async inventory(): Promise<DeviceInventory> {
    const v = await this.view();
    const devices = v.filesystems
      .map((f) => ({ id: idOfAlias(f.alias), slot: f.bus === null ? null : `pci.${f.bus}` }))
      .filter((d): d is { id: string; slot: string | null } => !!d.id && isMountId(d.id));
    const backends = markedVirtiofsd(this.ref.uuid).map((b) => ({ id: b.id, kind: "virtiofsd", pid: b.pid }));
    return { devices, backends };
  }

  async powerOff(): Promise<void> {
    this.log.info(`the domain belongs to libvirt: leaving it running (stop it with virsh -c ${this.ref.uri} shutdown ${this.ref.domain})`);
  }

  async close(): Promise<void> {}
}
