// Every name hotmount chooses for a file lives here, and nowhere else: each instance's sockets,
// logs and records (including the ones a driver keeps there), the SSH key, the cache (guest
// images and their build folders, downloaded packages, the KVM verdict, the VZ dylib) and the
// temporary folders hotmount makes. Pure: nothing here reads or creates a file. The state root
// and its two top folders come from state-dir.ts, which also refuses a root others could write
// to, the way Lima keeps names (filenames.go) apart from resolving its home (dirnames.go).
// Names another program chooses stay with the code that talks to it: Lima's files in $LIMA_HOME
// (drivers/lima/lima-paths.ts), macOS's DHCP leases (drivers/vz/vz-paths.ts), cloud-init's seed
// files (src/guest-image/debian/seed.ts), paths inside the guest (src/guest-image/). File names
// are data, not dependencies: nothing here imports a driver.
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { HotmountError } from "./errors.ts";
import { hotmountHome, instancesDir, sshDir } from "./state-dir.ts";

export { hotmountHome, instancesDir, sshDir };

/** Content-addressed build cache (guest images, packages, the KVM verdict); safe to share between homes. */
export function cacheHome(): string {
  if (process.env.HOTMOUNT_CACHE) return process.env.HOTMOUNT_CACHE;
  const xdg = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  return join(xdg, "hotmount");
}

/**
 * A build's work folder sits next to the images it publishes (publishing is one rename on one
 * filesystem); its name starts with this, so a stale one from a dead build can be found.
 */
export const BUILD_WORK_PREFIX = ".build-";

/** The files of one demo guest image, in the cache or in the build's output folder. */
export interface DemoImagePaths {
  dir: string;
  kernel: string;
  initrd: string;
  manifest: string;
}

export function demoImageLayout(dir: string): DemoImagePaths {
  return { dir, kernel: join(dir, "vmlinuz"), initrd: join(dir, "initramfs.img"), manifest: join(dir, "manifest.json") };
}

/** Demo guest images, one folder per recipe key. */
export function demoCacheDir(): string {
  return join(cacheHome(), "guest");
}

export function demoImagePaths(key: string): DemoImagePaths {
  return demoImageLayout(join(demoCacheDir(), key));
}

/** Downloaded .deb files, shared by every demo build (file names carry name, version and arch). */
export function debCacheDir(): string {
  return join(cacheHome(), "debs");
}

/** A private apt state (lists, cache, empty dpkg status) for a foreign Debian architecture's packages. */
export function foreignAptDir(debArch: string): string {
  return join(cacheHome(), `apt-${debArch}`);
}

/** A download's private folder inside debCacheDir() starts with this (its files are renamed into place one by one). */
export const DOWNLOAD_WORK_PREFIX = ".dl-";

/** Inside one demo build's work folder: the guest root, the unpacked kernel package, the output and the initramfs's pieces. */
export function demoBuildPaths(work: string): { root: string; kernelRoot: string; out: string; fileList: string; cpio: string } {
  return {
    root: join(work, "root"),
    kernelRoot: join(work, "kernel"),
    out: join(work, "out"),
    fileList: join(work, "files.list"),
    cpio: join(work, "initramfs.cpio"),
  };
}

/** The files of one Debian guest image, in the cache or in the build's output folder (or a user's image folder). */
export interface DebianImagePaths {
  dir: string;
  /** The root filesystem (ext4 on the whole disk, no partition table), qcow2. */
  disk: string;
  kernel: string;
  initrd: string;
  manifest: string;
}

export function debianImageLayout(dir: string): DebianImagePaths {
  return { dir, disk: join(dir, "disk.qcow2"), kernel: join(dir, "vmlinuz"), initrd: join(dir, "initrd.img"), manifest: join(dir, "manifest.json") };
}

/** Debian guest images, one folder per recipe key, next to the work folders of running builds. */
export function debianCacheDir(): string {
  return join(cacheHome(), "debian");
}

export function debianImagePaths(key: string): DebianImagePaths {
  return debianImageLayout(join(debianCacheDir(), key));
}

/** Held while a Debian image builds, so a second caller waits for it instead of building too. */
export function debianBuildLock(): string {
  return join(debianCacheDir(), ".lock");
}

/** debootstrap's --cache-dir: the .deb files, reused by every rebuild. */
export function debootstrapDebsDir(): string {
  return join(cacheHome(), "debootstrap-debs");
}

/** Inside one Debian build's work folder: the debootstrapped root, the output and the raw ext4 image. */
export function debianBuildPaths(work: string): { root: string; out: string; raw: string } {
  return { root: join(work, "root"), out: join(work, "out"), raw: join(work, "root.raw") };
}

/** Where a dylib embedded in the compiled binary is written once (by content hash) for dlopen (VZ driver). */
export function vzDylibCacheDir(): string {
  return join(cacheHome(), "vz");
}

export function sshKeyPath(): string {
  return join(sshDir(), "id_ed25519");
}

/** The KVM-or-TCG verdict, per QEMU version and host kernel (drivers/qemu/accel.ts). */
export function accelCachePath(): string {
  return join(cacheHome(), "accel.json");
}

/** A KVM probe boot's scratch folder in the system temp folder (mkdtemp prefix) and the serial log in it. */
export function kvmProbeTempPrefix(): string {
  return join(tmpdir(), "hotmount-kvm-probe-");
}

export function kvmProbeSerialLog(dir: string): string {
  return join(dir, "serial.log");
}

/** The files of one instance. Socket names stay short: a unix socket path has at most 107 bytes. */
export interface InstancePaths {
  dir: string;
  config: string;
  /** What the running VM is: pid, accel and why, start time. */
  runtime: string;
  qemuPid: string;
  qemuLog: string;
  qmpSock: string;
  /** Host end of the qemu-guest-agent virtio-serial channel. */
  qgaSock: string;
  serialLog: string;
  agentSock: string;
  agentPid: string;
  agentLog: string;
  journal: string;
  /** Audit log of mount operations (JSON lines, rotated to `.1`); `mount history` reads it. */
  history: string;
  /** The agent's recent events (JSON lines, rotated), so `GET /v1/events?since=` survives a restart. */
  events: string;
  /** virtiofsd sockets and logs live here, one pair per mount id. */
  virtiofsdDir: string;
  /** 9p slot symlinks (slot0 ... slotK-1) that reserved fsdevs point at. */
  ninePDir: string;
  /** reverse-sshfs logs, one per mount id. */
  sshfsDir: string;
  lock: string;
  /** A disk-image instance (`vm start --image`): its copy-on-write overlay of the cached image. */
  diskOverlay: string;
  /** The cloud-init NoCloud seed ISO and the folder it is made from. */
  seedIso: string;
  seedDir: string;
}

export function instancePaths(name: string): InstancePaths {
  // The name becomes a folder name: "..", "a/b" or a control character would point elsewhere.
  if (!name || name === "." || name === ".." || /[/\u0000-\u001f\u007f]/.test(name)) {
    throw new HotmountError("INVALID_ARGUMENT", `invalid instance name ${JSON.stringify(name)}`, {
      hint: "Instance names are single words such as dev; see `hotmount vm list`.",
    });
  }
  const dir = join(instancesDir(), name);
  return {
    dir,
    config: join(dir, "instance.json"),
    runtime: join(dir, "runtime.json"),
    qemuPid: join(dir, "qemu.pid"),
    qemuLog: join(dir, "qemu.log"),
    qmpSock: join(dir, "qmp.sock"),
    qgaSock: join(dir, "qga.sock"),
    serialLog: join(dir, "serial.log"),
    agentSock: join(dir, "agent.sock"),
    agentPid: join(dir, "agent.pid"),
    agentLog: join(dir, "agent.log"),
    journal: join(dir, "mounts.json"),
    history: join(dir, "history.jsonl"),
    events: join(dir, "events.jsonl"),
    virtiofsdDir: join(dir, "vfsd"),
    ninePDir: join(dir, "9p"),
    sshfsDir: join(dir, "sshfs"),
    lock: join(dir, "lock"),
    diskOverlay: join(dir, "disk.qcow2"),
    seedIso: join(dir, "seed.iso"),
    seedDir: join(dir, "seed"),
  };
}

export function virtiofsdSocket(name: string, mountId: string): string {
  return join(instancePaths(name).virtiofsdDir, `${mountId}.sock`);
}

export function virtiofsdLog(name: string, mountId: string): string {
  return join(instancePaths(name).virtiofsdDir, `${mountId}.log`);
}

export function ninePSlotLink(name: string, slot: number): string {
  return join(instancePaths(name).ninePDir, `slot${slot}`);
}

/** Which mount holds a reserved 9p slot, next to its link (see drivers/qemu/hotplug-9p.ts). */
export function ninePSlotOwner(name: string, slot: number): string {
  return `${ninePSlotLink(name, slot)}.owner`;
}

/** What an unused 9p slot link points at. */
export function ninePEmptyDir(name: string): string {
  return join(instancePaths(name).ninePDir, "empty");
}

export function sshfsLog(name: string, mountId: string): string {
  return join(instancePaths(name).sshfsDir, `${mountId}.log`);
}

/** An empty folder: reverse-sshfs mounts its sftp-server jail here, inside private namespaces only. */
export function sftpJailDir(name: string): string {
  return join(instancePaths(name).sshfsDir, "jail");
}

export const UNIX_PATH_MAX = 107;

// Records a driver keeps in hotmount's folders. Their names are here with the rest of the
// footprint; what is in them belongs to the driver named in each comment.

/** VZ driver: which process hosts the instance's VM (the VM dies with it), its MAC and guest address. */
export function vzRuntimeFile(name: string): string {
  return join(instancePaths(name).dir, "vz.json");
}

/** VZ driver: the empty folder every free spare virtio-fs device shares, read-only. */
export function vzPlaceholderDir(name: string): string {
  return join(instancePaths(name).dir, "vz-empty");
}

/** Lima driver: which Lima instance a hotmount instance stands for (written on registration and by the wrapper). */
export function limaLinkPath(hmName: string): string {
  return join(instancePaths(hmName).dir, "lima.json");
}

/** Lima driver: what hotmount's QEMU wrapper injected into the Lima instance's running QEMU. */
export function wrapMarkerPath(hmName: string): string {
  return join(instancePaths(hmName).dir, "qemu-wrap.json");
}

/** Lima driver: where `hotmount qemu-wrap --install` puts the QEMU_SYSTEM_<ARCH> executables. */
export function shimDir(): string {
  return join(hotmountHome(), "lima", "bin");
}
