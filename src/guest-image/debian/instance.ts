// Turning `vm start NAME --image debian|PATH` into what QEMU boots: the image's own kernel and
// initrd, a qcow2 overlay of the image for this instance, and its cloud-init seed ISO.
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, rmSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { HotmountError } from "../../core/errors.ts";
import { requireTool, runTool } from "./exec.ts";
import { ensureDebianImage } from "./image.ts";
import { debianImageLayout, instancePaths } from "../../core/paths.ts";
import { IMAGE_GUEST_USER, writeSeedIso } from "./seed.ts";

/** `--image debian`: the image scripts/build-guest --distro debian makes (built on first use). */
export const DEBIAN_IMAGE = "debian";

/** The image's root filesystem is the whole virtio disk (no partition table). */
export const IMAGE_APPEND = "root=/dev/vda rw console=ttyS0";

export interface ImageDisk {
  /** This instance's overlay: the VM writes here, never to the base. */
  path: string;
  base: string;
  baseFormat: "qcow2" | "raw";
}

export interface ImageInstance {
  /** What was asked for ("debian" or an absolute path), kept so a restart boots the same image. */
  image: string;
  kernel: string;
  initrd?: string;
  append: string;
  disk: ImageDisk;
  seed: { path: string; instanceId: string };
  user: string;
}

export interface PrepareOptions {
  publicKeyLine: string;
  kernel?: string;
  initrd?: string;
  append?: string;
  /** The previous config: its overlay is kept while the base stays the same. */
  prev?: { image?: string; kernel: string; initrd?: string; append: string; disk?: ImageDisk; seed?: { path: string; instanceId: string } };
  progress: (line: string) => void;
}

async function diskFormat(path: string): Promise<"qcow2" | "raw"> {
  const info = JSON.parse(await runTool([requireTool("qemu-img"), "info", "--output=json", "--", path])) as { format?: string };
  if (info.format === "qcow2" || info.format === "raw") return info.format;
  throw new HotmountError("INVALID_ARGUMENT", `${path} is a ${info.format ?? "unknown"} image; --image takes qcow2 or raw`, {
    hint: `Convert it: qemu-img convert -O qcow2 ${path} disk.qcow2`,
  });
}

/** The base disk, kernel and initrd of `image`. A path's kernel defaults to vmlinuz/initrd.img beside it. */
async function resolveBase(image: string, o: PrepareOptions): Promise<{ base: string; format: "qcow2" | "raw"; kernel: string; initrd?: string }> {
  if (image === DEBIAN_IMAGE) {
    const img = await ensureDebianImage({ onProgress: o.progress });
    return { base: img.disk, format: "qcow2", kernel: o.kernel ?? img.kernel, initrd: o.kernel ? o.initrd : img.initrd };
  }
  const base = resolve(image);
  if (!existsSync(base) || !statSync(base).isFile()) {
    throw new HotmountError("INVALID_ARGUMENT", `no disk image at ${base}`, { hint: "Pass --image debian, or the path of a qcow2/raw disk image." });
  }
  const beside = debianImageLayout(dirname(base));
  const kernel = o.kernel ?? beside.kernel;
  const initrd = o.kernel ? o.initrd : beside.initrd;
  if (!existsSync(kernel)) {
    throw new HotmountError("USAGE", `no kernel for ${base}: pass --kernel (and --initrd), or put vmlinuz and initrd.img next to the image`, {
      hint: "hotmount boots the image's kernel directly (root=/dev/vda); extract it from the image's /boot.",
    });
  }
  return { base, format: await diskFormat(base), kernel, initrd: initrd && existsSync(initrd) ? initrd : undefined };
}

/** QEMU holds a lock on a disk it runs on; qemu-img then cannot open it. */
function inUse(disk: string): boolean {
  const r = Bun.spawnSync([requireTool("qemu-img"), "info", "--", disk], { stdout: "ignore", stderr: "pipe" });
  return r.exitCode !== 0 && /lock/i.test(r.stderr.toString());
}

export async function prepareImageInstance(name: string, image: string, o: PrepareOptions): Promise<ImageInstance> {
  const files = instancePaths(name);
  const p = o.prev;
  if (p?.disk && p.seed && existsSync(p.disk.path) && inUse(p.disk.path)) {
    // The VM is running: touch nothing (never replace a disk under it); vm start then says it
    // runs, or restarts its agent.
    return { image: p.image ?? image, kernel: p.kernel, initrd: p.initrd, append: p.append, disk: p.disk, seed: p.seed, user: IMAGE_GUEST_USER };
  }
  const b = await resolveBase(image, o);
  mkdirSync(dirname(files.diskOverlay), { recursive: true, mode: 0o700 });
  // A restart keeps the guest's disk; a new base (or a lost overlay) starts a fresh one.
  const keep = o.prev?.disk?.base === b.base && existsSync(files.diskOverlay);
  if (!keep) {
    o.progress("creating the instance's disk overlay");
    rmSync(files.diskOverlay, { force: true });
    await runTool([requireTool("qemu-img"), "create", "-q", "-f", "qcow2", "-b", b.base, "-F", b.format, files.diskOverlay]);
  }
  // cloud-init sets up the user once per instance-id: a new overlay or a new SSH key needs a new one.
  const keyTag = createHash("sha256").update(o.publicKeyLine).digest("hex").slice(0, 8);
  const prevId = o.prev?.seed?.instanceId;
  const instanceId = keep && prevId?.endsWith(`-${keyTag}`) ? prevId : `hm-${name}-${randomBytes(4).toString("hex")}-${keyTag}`;
  await writeSeedIso(files.seedIso, files.seedDir, { instanceId, hostname: name, user: IMAGE_GUEST_USER, publicKeyLine: o.publicKeyLine });
  return {
    image: image === DEBIAN_IMAGE ? image : b.base,
    kernel: b.kernel,
    initrd: b.initrd,
    append: o.append ?? IMAGE_APPEND,
    disk: { path: files.diskOverlay, base: b.base, baseFormat: b.format },
    seed: { path: files.seedIso, instanceId },
    user: IMAGE_GUEST_USER,
  };
}
