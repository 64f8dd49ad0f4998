// One build of the Debian guest image into a work directory: debootstrap from the host's apt
// source → configure the root filesystem → kernel and initrd out → ext4 image → qcow2.
// image.ts decides when to build and publishes the result; this file only builds.
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { HotmountError } from "../../core/errors.ts";
import { debianBuildPaths, debianImageLayout } from "../../core/paths.ts";
import { requireTool, runTool } from "./exec.ts";
import { debianMirror } from "./mirror.ts";
import {
  DEBIAN_DISK_BYTES,
  DEBIAN_FS_LABEL,
  DEBIAN_PACKAGES,
  DEBIAN_RECIPE_VERSION,
  DEBIAN_SUITE,
  DEBIAN_VARIANT,
  CLOUD_INIT_DROP_MODULES,
  ENABLED_UNITS,
  MASKED_UNITS,
  PRUNE_PATHS,
  debianImageFiles,
} from "./recipe.ts";

export interface DebianBuildManifest {
  key: string;
  recipeVersion: number;
  suite: string;
  builtAt: string;
  buildSeconds: number;
  kernel: string;
  diskBytes: number;
  packages: { name: string; version: string }[];
}

/**
 * debootstrap prints a line per package and phase; per-package lines become a count every 40
 * packages so the progress stays readable; phase lines, warnings and errors pass through.
 */
export function debootstrapProgress(say: (l: string) => void): (line: string) => void {
  let verb = "";
  let n = 0;
  const flush = () => {
    if (verb && n % 40 !== 0) say(`  ${verb.toLowerCase()} ${n} packages`);
  };
  return (line) => {
    const m = /^I: (Retrieving|Validating) \S+ \S+$/.exec(line) ?? /^I: (Extracting|Unpacking|Configuring) \S+\.\.\.$/.exec(line);
    if (m) {
      if (m[1] !== verb) {
        flush();
        verb = m[1]!;
        n = 0;
      }
      if (++n % 40 === 0) say(`  ${verb.toLowerCase()} ${n} packages`);
      return;
    }
    if (!/^[IWE]: /.test(line)) return;
    flush();
    verb = "";
    n = 0;
    say(`  ${line.slice(3)}`);
  };
}

/** Mount points at or under `dir` (debootstrap mounts /proc and /sys in the target while it runs). */
export function mountsUnder(dir: string, mountsText: string): string[] {
  const un = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(Number.parseInt(o, 8)));
  return mountsText
    .split("\n")
    .map((l) => un(l.split(" ")[1] ?? ""))
    .filter((m) => m === dir || m.startsWith(`${dir}/`));
}

/**
 * Removes a work directory, first detaching anything a killed debootstrap left mounted in it:
 * a recursive delete must never walk into a mounted /proc or /sys. Refuses if a mount stays.
 */
export async function removeWorkDir(dir: string): Promise<void> {
  if (!existsSync(dir)) return;
  const read = () => mountsUnder(dir, readFileSync("/proc/self/mounts", "utf8"));
  for (const m of read().sort((a, b) => b.length - a.length)) Bun.spawnSync(["umount", "-l", "--", m]);
  const left = read();
  if (left.length) {
    throw new HotmountError("INTERNAL", `not removing ${dir}: ${left[0]} is still mounted`, { hint: `Unmount it (umount -l ${left[0]}) and remove ${dir}.` });
  }
  rmSync(dir, { recursive: true, force: true });
}

function prune(root: string): void {
  for (const rel of PRUNE_PATHS) {
    if (!rel.endsWith("*")) {
      rmSync(join(root, rel), { recursive: true, force: true });
      continue;
    }
    const dir = join(root, dirname(rel));
    const prefix = basename(rel).slice(0, -1);
    for (const n of existsSync(dir) ? readdirSync(dir) : []) if (n.startsWith(prefix)) rmSync(join(dir, n), { force: true });
  }
}

function configure(root: string): void {
  prune(root);
  for (const [rel, text] of Object.entries(debianImageFiles())) {
    const p = join(root, rel);
    mkdirSync(dirname(p), { recursive: true });
    rmSync(p, { force: true }); // may be a symlink (resolv.conf, machine-id) pointing into the host's view
    writeFileSync(p, text);
    chmodSync(p, 0o644);
  }
  mkdirSync(join(root, "etc/network/interfaces.d"), { recursive: true });
  for (const unit of MASKED_UNITS) {
    const p = join(root, "etc/systemd/system", unit);
    rmSync(p, { force: true });
    symlinkSync("/dev/null", p);
  }
  for (const [unit, target] of Object.entries(ENABLED_UNITS)) {
    const wants = join(root, "etc/systemd/system", `${target}.wants`);
    mkdirSync(wants, { recursive: true });
    rmSync(join(wants, unit), { force: true });
    symlinkSync(`/etc/systemd/system/${unit}`, join(wants, unit));
  }
  const cfgPath = join(root, "etc/cloud/cloud.cfg");
  writeFileSync(cfgPath, dropCloudInitModules(readFileSync(cfgPath, "utf8"), CLOUD_INIT_DROP_MODULES));
}

/** Removes "- name" (or "- [name, ...]") module lines from cloud.cfg; each must be there once. */
export function dropCloudInitModules(text: string, names: readonly string[]): string {
  let out = text;
  for (const n of names) {
    const re = new RegExp(`^[ \\t]*-[ \\t]*(\\[[ \\t]*)?${n}\\b.*\\n`, "m");
    if (!re.test(out))
      throw new HotmountError("INTERNAL", `cloud-init's cloud.cfg has no "${n}" module line to drop`, {
        hint: "cloud-init's default config changed; update CLOUD_INIT_DROP_MODULES in src/guest-image/debian/recipe.ts.",
      });
    out = out.replace(re, "");
  }
  return out;
}

/** The newest vmlinuz-* and its initrd.img-* from the root filesystem's /boot. */
function bootFiles(root: string): { kernel: string; initrd: string; release: string } {
  const boot = join(root, "boot");
  const kernels = (existsSync(boot) ? readdirSync(boot) : []).filter((f) => f.startsWith("vmlinuz-")).sort();
  const release = kernels.at(-1)?.slice("vmlinuz-".length);
  if (!release || !existsSync(join(boot, `initrd.img-${release}`))) {
    throw new HotmountError("INTERNAL", "the Debian root filesystem has no /boot/vmlinuz-* with a matching initrd.img-*", {
      hint: "linux-image-amd64 or initramfs-tools did not install; run scripts/build-guest --distro debian --force and read its progress.",
    });
  }
  return { kernel: join(boot, `vmlinuz-${release}`), initrd: join(boot, `initrd.img-${release}`), release };
}

export function requireBuildRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new HotmountError("PERMISSION_DENIED", "building the Debian guest needs root (debootstrap unpacks packages as root and chroots into them)", {
      hint: "Run scripts/build-guest --distro debian as root (sudo) once; booting the built image does not need root.",
    });
  }
}

/** Builds into `work` (the caller creates and removes it); the image lands in `work/out`. */
export async function buildDebianImage(work: string, key: string, debs: string, say: (l: string) => void): Promise<DebianBuildManifest> {
  const t0 = performance.now();
  const step = (l: string) => say(`[${((performance.now() - t0) / 1000).toFixed(1)}s] ${l}`);
  requireBuildRoot();
  const debootstrap = requireTool("debootstrap");
  const mkfs = requireTool("mkfs.ext4");
  const qemuImg = requireTool("qemu-img");
  const src = debianMirror(DEBIAN_SUITE);
  const paths = debianBuildPaths(work);
  const { root, raw } = paths;
  const out = debianImageLayout(paths.out);
  mkdirSync(out.dir, { recursive: true });
  mkdirSync(debs, { recursive: true });

  step(`debootstrap ${DEBIAN_SUITE} (${DEBIAN_VARIANT} + ${DEBIAN_PACKAGES.length} packages) from the apt source in ${src.file}`);
  await runTool(
    [
      debootstrap,
      `--variant=${DEBIAN_VARIANT}`,
      `--cache-dir=${debs}`,
      `--include=${DEBIAN_PACKAGES.map((p) => p.name).join(",")}`,
      ...(src.keyring ? [`--keyring=${src.keyring}`] : []),
      DEBIAN_SUITE,
      root,
      src.uri,
    ],
    { onLine: debootstrapProgress(step) },
  );

  step("configuring the root filesystem (cloud-init datasource, masked timers, no machine id or host keys)");
  const packages = (await runTool(["dpkg-query", `--admindir=${join(root, "var/lib/dpkg")}`, "-W", "-f", "${Package} ${Version}\n"]))
    .split("\n")
    .filter(Boolean)
    .map((l) => ({ name: l.split(" ")[0]!, version: l.split(" ")[1] ?? "" }));
  configure(root);
  const boot = bootFiles(root);
  // Readable by everyone: a non-root hotmount boots these (the initrd is 0600 in the rootfs).
  for (const [from, to] of [
    [boot.kernel, out.kernel],
    [boot.initrd, out.initrd],
  ] as const) {
    copyFileSync(from, to);
    chmodSync(to, 0o644);
  }

  step(`making the ext4 image (${DEBIAN_DISK_BYTES / 1024 ** 3} GiB sparse)`);
  writeFileSync(raw, "");
  truncateSync(raw, DEBIAN_DISK_BYTES);
  await runTool([mkfs, "-q", "-F", "-L", DEBIAN_FS_LABEL, "-d", root, raw]);
  await removeWorkDir(root);
  step("converting to qcow2");
  await runTool([qemuImg, "convert", "-O", "qcow2", raw, out.disk]);
  rmSync(raw, { force: true });
  chmodSync(out.disk, 0o644);

  const manifest: DebianBuildManifest = {
    key,
    recipeVersion: DEBIAN_RECIPE_VERSION,
    suite: DEBIAN_SUITE,
    builtAt: new Date().toISOString(),
    buildSeconds: Math.round((performance.now() - t0) / 100) / 10,
    kernel: boot.release,
    diskBytes: statSync(out.disk).size,
    packages,
  };
  writeFileSync(out.manifest, JSON.stringify(manifest, null, 2) + "\n");
  step(`image ${(manifest.diskBytes / 1e6).toFixed(0)} MB (kernel ${boot.release}, ${packages.length} packages)`);
  return manifest;
}
