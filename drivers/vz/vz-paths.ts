// The VZ driver's on-disk names (the rest live in src/core/paths.ts). Kept here so the core does
// not learn about one driver.
import { join } from "node:path";
import { cacheHome, instancePaths } from "../../src/core/paths.ts";

/** Which process hosts the instance's VZ VM (the VM dies with it), its MAC and guest address. */
export function vzRuntimeFile(name: string): string {
  return join(instancePaths(name).dir, "vz.json");
}

/** The empty directory every free spare virtio-fs device shares, read-only. */
export function vzPlaceholderDir(name: string): string {
  return join(instancePaths(name).dir, "vz-empty");
}

/** Where a dylib embedded in the compiled binary is written once (by content hash) for dlopen. */
export function vzDylibCacheDir(): string {
  return join(cacheHome(), "vz");
}

/** macOS's DHCP server (bootpd) records the leases it gives NAT guests here; not ours, read-only. */
export const MACOS_DHCPD_LEASES = "/var/db/dhcpd_leases";
