// scripts/build-guest: builds (or finds in the cache) the demo guest and prints where it is.
// Progress goes to stderr so stdout stays machine-readable (the paths, or --json).
import { HotmountError } from "../core/errors.ts";
import { ensureDemoGuest } from "./demo-guest.ts";
import { parseGuestArch } from "./arch.ts";

const USAGE = `usage: scripts/build-guest [--arch x86_64|aarch64] [--distro debian] [--force] [--json] [--quiet]

Builds hotmount's demo guest (a Debian kernel and a small initramfs made from Debian packages,
using the host's apt; nothing is installed) into the cache, or reuses the cached one.
Prints the kernel and initrd paths on stdout.

  --distro debian
            build the Debian bookworm disk image instead (debootstrap from the host's apt
            sources, as root; about 2 minutes): prints the disk, kernel and initrd paths.
            \`hotmount vm start NAME --image debian\` boots it.
  --arch A  the demo guest's architecture: x86_64 (default) or aarch64 (Debian arm64
            packages from a private apt state; \`hotmount vm start NAME --arch aarch64\`)
  --force   rebuild even if the cache has an image for this recipe
  --json    print {"kernel","initrd","key","built","seconds"} instead of two paths
  --quiet   no progress on stderr
  --help    this text

The cache is $HOTMOUNT_CACHE, else $XDG_CACHE_HOME/hotmount, else ~/.cache/hotmount.
`;

async function main(argv: string[]): Promise<number> {
  const flags = new Set(argv);
  if (flags.has("--help") || flags.has("-h")) {
    process.stdout.write(USAGE);
    return 0;
  }
  const distro = argv.includes("--distro") ? argv[argv.indexOf("--distro") + 1] : undefined;
  if (argv.includes("--distro") && distro !== "debian") {
    process.stderr.write(`build-guest: --distro takes "debian", not ${distro ?? "nothing"}\n${USAGE}`);
    return 2;
  }
  const unknown = argv.filter(
    (a, i) => !["--force", "--json", "--quiet", "--distro", "--arch"].includes(a) && argv[i - 1] !== "--distro" && argv[i - 1] !== "--arch",
  );
  if (unknown.length) {
    process.stderr.write(`build-guest: unknown argument ${unknown[0]}\n${USAGE}`);
    return 2;
  }
  const quiet = flags.has("--quiet");
  if (distro) return buildDebian(flags.has("--force"), flags.has("--json"), quiet);
  try {
    const g = await ensureDemoGuest({
      force: flags.has("--force"),
      arch: argv.includes("--arch") ? parseGuestArch(argv[argv.indexOf("--arch") + 1] ?? "") : undefined,
      onProgress: quiet ? undefined : (l) => process.stderr.write(`build-guest: ${l}\n`),
    });
    if (!quiet) process.stderr.write(`build-guest: ${g.built ? "built" : "cached"} image ${g.key.slice(0, 12)} (${g.seconds.toFixed(2)} s)\n`);
    process.stdout.write(flags.has("--json") ? JSON.stringify(g) + "\n" : `${g.kernel}\n${g.initrd}\n`);
    return 0;
  } catch (e) {
    const err = e instanceof HotmountError ? e : new HotmountError("INTERNAL", String(e));
    process.stderr.write(`build-guest: ${err.message}\n${err.hint ? `hint: ${err.hint}\n` : ""}`);
    return err.exitCode;
  }
}

async function buildDebian(force: boolean, json: boolean, quiet: boolean): Promise<number> {
  const { ensureDebianImage } = await import("./debian/image.ts");
  try {
    const g = await ensureDebianImage({ force, onProgress: quiet ? undefined : (l) => process.stderr.write(`build-guest: ${l}\n`) });
    if (!quiet) process.stderr.write(`build-guest: ${g.built ? "built" : "cached"} Debian image ${g.key.slice(0, 12)} (${g.seconds.toFixed(2)} s)\n`);
    process.stdout.write(json ? JSON.stringify(g) + "\n" : `${g.disk}\n${g.kernel}\n${g.initrd}\n`);
    return 0;
  } catch (e) {
    const err = e instanceof HotmountError ? e : new HotmountError("INTERNAL", String(e));
    process.stderr.write(`build-guest: ${err.message}\n${err.hint ? `hint: ${err.hint}\n` : ""}`);
    return err.exitCode;
  }
}

process.exit(await main(process.argv.slice(2)));
