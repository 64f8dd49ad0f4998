// One build of the demo guest into a work directory: packages → unpacked root → checks → initramfs.
// demo-guest.ts decides when to build and publishes the result; this file only builds.
import { chmodSync, copyFileSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { HotmountError } from "../core/errors.ts";
import { demoBuildPaths, demoImageLayout } from "../core/paths.ts";
import { fetchDebs, resolvePackages } from "./apt.ts";
import { type GuestArch, hostGuestArch } from "./arch.ts";
import { GUEST_MODULES } from "./contract.ts";
import { GUEST_DIRS, GUEST_SYMLINKS, MODULE_LIST_FILE, guestFiles } from "./demo-files.ts";
import { copyModules } from "./modules.ts";
import { RECIPE_VERSION, prunePaths } from "./recipe.ts";
import { checkSharedLibs, installBusyboxLinks, listTree } from "./rootfs.ts";
import { run } from "./run.ts";

export interface BuildResult {
  kernel: string;
  initrd: string;
  manifest: Record<string, unknown>;
}

/** Builds into `work` (which the caller creates and removes); artifacts land in `work/out`. */
export async function buildGuest(work: string, key: string, debCache: string, say: (l: string) => void, arch: GuestArch = "x86_64"): Promise<BuildResult> {
  const t0 = performance.now();
  const step = (l: string) => say(`[${((performance.now() - t0) / 1000).toFixed(1)}s] ${l}`);

  step(`resolving packages (${arch})`);
  const { kernel: kernelPkg, packages } = await resolvePackages(arch, step);
  const debs = await fetchDebs(packages, debCache, step, arch);

  const paths = demoBuildPaths(work);
  const { root, kernelRoot: kroot } = paths;
  const out = demoImageLayout(paths.out);
  for (const d of [root, kroot, out.dir]) mkdirSync(d, { recursive: true });

  step(`unpacking ${debs.length} packages`);
  // The kernel (≈400 MB unpacked) goes to its own tree in parallel; only the needed .ko files are copied.
  const kdeb = debs.find((d) => d.name === kernelPkg)!;
  const kernelDone = run(["dpkg-deb", "-x", kdeb.path, kroot]);
  for (const d of debs) if (d !== kdeb) await run(["dpkg-deb", "-x", d.path, root]);
  await kernelDone;
  for (const p of prunePaths(arch)) rmSync(join(root, p), { recursive: true, force: true });

  const mods = copyModules(kroot, root, GUEST_MODULES);
  step(
    `kernel ${mods.kver}: ${mods.files.length} module files for ${mods.load.length} modules` +
      (mods.builtin.length ? ` (built in: ${mods.builtin.join(" ")})` : ""),
  );
  const vmlinuz = readdirSync(join(kroot, "boot")).find((f) => f.startsWith("vmlinuz-"));
  if (!vmlinuz) throw new HotmountError("INTERNAL", `${kernelPkg} has no /boot/vmlinuz-*`);
  copyFileSync(join(kroot, "boot", vmlinuz), out.kernel);
  rmSync(kroot, { recursive: true, force: true });

  for (const [dir, mode] of Object.entries(GUEST_DIRS)) {
    mkdirSync(join(root, dir), { recursive: true });
    chmodSync(join(root, dir), mode);
  }
  for (const [link, target] of Object.entries(GUEST_SYMLINKS)) {
    rmSync(join(root, link), { recursive: true, force: true });
    symlinkSync(target, join(root, link));
  }
  const files = { ...guestFiles(), [MODULE_LIST_FILE]: { text: mods.load.join("\n") + "\n", mode: 0o644 } };
  for (const [rel, f] of Object.entries(files)) {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), f.text);
    chmodSync(join(root, rel), f.mode);
  }

  // The guest's static busybox also does host-side work (applet list, depmod, cpio); for a guest of
  // another architecture, the host's own Debian busybox-static does it instead (no qemu-user needed).
  const busybox = await toolBusybox(arch, root, join(work, "tools"), debCache, step);
  const links = await installBusyboxLinks(root, busybox);
  const programs = checkSharedLibs(root);
  step(`${links} busybox applet links; ${programs} programs have all their libraries`);
  await run([busybox, "depmod", "-b", root, mods.kver]);

  step("packing initramfs");
  const { fileList: list, cpio } = paths;
  writeFileSync(list, listTree(root).join("\0") + "\0");
  // The host's busybox may be missing: the guest's own static busybox does the packing.
  await run([busybox, "cpio", "-0", "-o", "-H", "newc", "-R", "0:0"], { cwd: root, stdinFile: list, stdoutFile: cpio });
  writeFileSync(out.initrd, Bun.gzipSync(readFileSync(cpio), { level: 9 }));
  rmSync(cpio);

  const manifest = {
    key,
    recipeVersion: RECIPE_VERSION,
    builtAt: new Date().toISOString(),
    buildSeconds: Math.round((performance.now() - t0) / 100) / 10,
    kernel: { package: kernelPkg, version: kdeb.version, release: mods.kver },
    arch,
    packages: debs.map((d) => ({ name: d.name, version: d.version, arch: d.arch })),
    modules: mods,
    initramfsBytes: statSync(out.initrd).size,
  };
  writeFileSync(out.manifest, JSON.stringify(manifest, null, 2) + "\n");
  step(`initramfs ${(manifest.initramfsBytes / 1e6).toFixed(1)} MB`);
  return { kernel: out.kernel, initrd: out.initrd, manifest };
}

/** A busybox this host can run: the guest's own, or for a foreign guest the host architecture's busybox-static. */
async function toolBusybox(arch: GuestArch, root: string, tools: string, debCache: string, step: (l: string) => void): Promise<string> {
  let host: GuestArch | null = null;
  try {
    host = hostGuestArch();
  } catch {}
  if (host === arch || !host) return join(root, "bin/busybox");
  const [deb] = await fetchDebs(["busybox-static"], debCache, step, host);
  mkdirSync(tools, { recursive: true });
  await run(["dpkg-deb", "-x", deb!.path, tools]);
  return join(tools, "bin/busybox");
}
