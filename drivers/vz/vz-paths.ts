// The names of files another program keeps on macOS that the VZ driver reads. hotmount's own VZ
// files (the runtime record, the placeholder folder, the dylib cache) are named in src/core/paths.ts.

/** macOS's DHCP server (bootpd) records the leases it gives NAT guests here; not ours, read-only. */
export const MACOS_DHCPD_LEASES = "/var/db/dhcpd_leases";
