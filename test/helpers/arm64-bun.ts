// An arm64 Bun for running the unit tier under qemu-user: the npm registry's
// @oven/bun-linux-aarch64 at the host Bun's own version, fetched with npm into the build cache and
// checked against the registry's integrity (sha512) before it is used, then a `bun` wrapper that
// runs it through qemu-aarch64-static and the arm64 glibc's own loader. The loader is named rather
// than given as QEMU_LD_PREFIX: with a prefix, qemu-user looks every absolute path up in the
// prefix first, so "/" and "/etc" would resolve to the sysroot's.
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cacheHome } from "../../src/core/paths.ts";

export const ARM64_BUN_PACKAGE = "@oven/bun-linux-aarch64";

function run(argv: string[], cwd: string): string {
  const r = Bun.spawnSync(argv, { cwd, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")} failed (${r.exitCode}): ${r.stderr.toString().trim()}`);
  return r.stdout.toString();
}

/** The package's tarball in the cache, checked against the registry's integrity; the path of its bin/bun. */
export function ensureArm64Bun(version: string): { bun: string; integrity: string; fetched: boolean } {
  const dir = join(cacheHome(), "bun-arm64", version);
  const tgz = join(dir, `oven-bun-linux-aarch64-${version}.tgz`);
  const bun = join(dir, "package", "bin", "bun");
  mkdirSync(dir, { recursive: true });
  const integrityFile = join(dir, "integrity");
  let integrity = existsSync(integrityFile) ? readFileSync(integrityFile, "utf8").trim() : "";
  if (!integrity) {
    integrity = run(["npm", "view", `${ARM64_BUN_PACKAGE}@${version}`, "dist.integrity"], dir).trim();
    if (!/^sha512-[A-Za-z0-9+/]+=*$/.test(integrity)) throw new Error(`npm view ${ARM64_BUN_PACKAGE}@${version}: no sha512 integrity (${integrity})`);
    writeFileSync(integrityFile, `${integrity}\n`);
  }
  const fetched = !existsSync(tgz);
  if (fetched) {
    const work = join(dir, ".pack");
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work);
    run(["npm", "pack", `${ARM64_BUN_PACKAGE}@${version}`, "--pack-destination", work], dir);
    renameSync(join(work, `oven-bun-linux-aarch64-${version}.tgz`), tgz);
    rmSync(work, { recursive: true, force: true });
  }
  const sum = `sha512-${createHash("sha512").update(readFileSync(tgz)).digest("base64")}`;
  if (sum !== integrity) {
    rmSync(tgz, { force: true });
    throw new Error(`${tgz}: sha512 ${sum} is not the registry's ${integrity}; removed`);
  }
  if (fetched || !existsSync(bun)) {
    rmSync(join(dir, "package"), { recursive: true, force: true });
    run(["tar", "-xzf", tgz, "package/bin/bun"], dir);
  }
  return { bun, integrity, fetched };
}

/** A folder holding `bun`, a wrapper that runs the arm64 Bun under qemu-user with `sysroot`'s glibc. */
export function arm64BunWrapper(dir: string, bun: string, qemuUser: string, sysroot: string): string {
  const bin = join(dir, "arm64-bin");
  mkdirSync(bin, { recursive: true });
  const libs = [join(sysroot, "lib", "aarch64-linux-gnu"), join(sysroot, "usr", "lib", "aarch64-linux-gnu")].join(":");
  writeFileSync(join(bin, "bun"), `#!/bin/sh\nexec '${qemuUser}' '${join(sysroot, "lib", "ld-linux-aarch64.so.1")}' --library-path '${libs}' '${bun}' "$@"\n`);
  chmodSync(join(bin, "bun"), 0o755);
  return bin;
}
