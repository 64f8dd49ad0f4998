// scripts/build-guest: builds (or finds in the cache) the demo guest and prints where it is.
// Progress goes to stderr so stdout stays machine-readable (the paths, or --json).
import { HotmountError } from "../core/errors.ts";
import { ensureDemoGuest } from "./demo-guest.ts";

const USAGE = `usage: scripts/build-guest [--force] [--json] [--quiet]

Builds hotmount's demo guest (a Debian kernel and a small initramfs made from Debian packages,
using the host's apt; nothing is installed) into the cache, or reuses the cached one.
Prints the kernel and initrd paths on stdout.

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
  const unknown = argv.filter((a) => !["--force", "--json", "--quiet"].includes(a));
  if (unknown.length) {
    process.stderr.write(`build-guest: unknown argument ${unknown[0]}\n${USAGE}`);
    return 2;
  }
  const quiet = flags.has("--quiet");
  try {
    const g = await ensureDemoGuest({
      force: flags.has("--force"),
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

process.exit(await main(process.argv.slice(2)));
