// instance.json: what `vm start` was asked for, written once per start, read by the agent and the CLI.
import { z } from "zod";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { HotmountError } from "./errors.ts";
import { Transport } from "./model.ts";
import { instancePaths } from "./paths.ts";

export const INSTANCE_NAME_RE = /^[a-z0-9][a-z0-9-]{0,30}$/;
export const InstanceName = z.string().regex(INSTANCE_NAME_RE, "lower-case letters, digits and '-', at most 31, starting with a letter or digit");

export const Accel = z.enum(["auto", "kvm", "tcg"]);
export type Accel = z.infer<typeof Accel>;

export const PersistentMount = z.object({
  hostPath: z.string(),
  mountPoint: z.string(),
  type: Transport,
  writable: z.boolean(),
});

export const InstanceConfig = z.object({
  name: InstanceName,
  driver: z.string().default("qemu"),
  memoryMiB: z
    .number()
    .int()
    .min(128)
    .max(1 << 20),
  cpus: z.number().int().min(1).max(256),
  /** Spare hot-plug slots (QEMU: pcie-root-ports); 0 for a Lima VM not started through hotmount's wrapper. */
  slots: z.number().int().min(0).max(32),
  /** Reserved 9p fsdevs. */
  ninePSlots: z.number().int().min(0).max(16).default(4),
  kernel: z.string(),
  initrd: z.string().optional(),
  append: z.string().default(""),
  accel: Accel.default("auto"),
  /** Guest SSH; the port is chosen at start. */
  ssh: z.object({ host: z.string(), port: z.number().int(), user: z.string(), identityFile: z.string() }),
  /** Static virtiofs shares configured at boot (`vm start --mount`). */
  staticMounts: z.array(z.object({ hostPath: z.string(), mountPoint: z.string(), tag: z.string(), writable: z.boolean().default(true) })).default([]),
  persistentMounts: z.array(PersistentMount).default([]),
  /** Booted outside `vm start` (a Lima instance, or `hotmount run`): hotmount attaches, never boots it. */
  external: z.enum(["lima", "run", "libvirt"]).optional(),
  /** A libvirt domain (driver libvirt): the connection URI, the domain's name and UUID. */
  libvirt: z.object({ uri: z.string(), domain: z.string(), uuid: z.string() }).optional(),
  /** `vm start --image`: "debian" or the base image's absolute path (a restart boots it again). */
  image: z.string().optional(),
  /** The instance's qcow2 overlay (virtio-blk, the guest's /dev/vda) over the image. */
  disk: z.object({ path: z.string(), base: z.string(), baseFormat: z.enum(["qcow2", "raw"]) }).optional(),
  /** The guest's architecture (`vm start --arch`): x86_64 on q35, aarch64 on virt. Absent: x86_64. */
  arch: z.enum(["x86_64", "aarch64"]).optional(),
  /** The cloud-init NoCloud seed ISO (an AHCI cdrom) and the instance-id in it. */
  seed: z.object({ path: z.string(), instanceId: z.string() }).optional(),
});
export type InstanceConfig = z.infer<typeof InstanceConfig>;

export function readInstanceConfig(name: string): InstanceConfig {
  const p = instancePaths(name).config;
  let raw: string;
  try {
    raw = readFileSync(p, "utf8");
  } catch {
    throw new HotmountError("INSTANCE_NOT_FOUND", `no instance named "${name}"`, {
      hint: "See `hotmount vm list`; create one with `hotmount vm start NAME`.",
    });
  }
  const r = InstanceConfig.safeParse(JSON.parse(raw));
  if (!r.success) throw new HotmountError("INTERNAL", `instance "${name}" has a damaged ${p}`, { cause: r.error, hint: `Remove ${p} and start it again.` });
  return r.data;
}

/** Atomic: a crash never leaves half a file. */
export function writeJsonAtomic(path: string, value: unknown, mode = 0o600): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(value, null, 2) + "\n", { mode });
  renameSync(tmp, path);
}

export function writeInstanceConfig(cfg: InstanceConfig): void {
  writeJsonAtomic(instancePaths(cfg.name).config, cfg);
}
