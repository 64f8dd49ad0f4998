// Finds a NAT guest's IPv4 address from macOS's DHCP lease file. VZ's NAT attachment hands guests
// addresses from bootpd, which writes /var/db/dhcpd_leases as blocks like:
//   {
//   	name=debian
//   	ip_address=192.168.64.3
//   	hw_address=1,5e:e4:a:9b:c8:1
//   	identifier=1,5e:e4:a:9b:c8:1
//   	lease=0x6567a1b2
//   }
// bootpd drops leading zeros in each MAC octet ("a", not "0a"), so MACs are compared octet by octet.
import { readFileSync } from "node:fs";

export interface Lease {
  ip: string;
  mac: string;
  /** Expiry as a Unix time; the newest lease for a MAC wins. */
  lease: number;
}

/** "5e:e4:a:9b:c8:1" and "5E:E4:0A:9B:C8:01" both become "5e:e4:0a:9b:c8:01"; null if not a MAC. */
export function normalizeMac(s: string): string | null {
  const parts = s.trim().split(":");
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{1,2}$/.test(p))) return null;
  return parts.map((p) => p.toLowerCase().padStart(2, "0")).join(":");
}

export function parseDhcpdLeases(text: string): Lease[] {
  const out: Lease[] = [];
  for (const block of text.split("{").slice(1)) {
    const body = block.split("}")[0] ?? "";
    const kv = new Map<string, string>();
    for (const line of body.split("\n")) {
      const i = line.indexOf("=");
      if (i > 0) kv.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
    }
    const ip = kv.get("ip_address");
    // hw_address is "<hardware type>,<mac>"; type 1 is Ethernet.
    const hw = kv.get("hw_address")?.replace(/^1,/, "");
    const mac = hw ? normalizeMac(hw) : null;
    if (!ip || !mac || !/^\d{1,3}(\.\d{1,3}){3}$/.test(ip)) continue;
    out.push({ ip, mac, lease: Number.parseInt(kv.get("lease") ?? "0", 16) || 0 });
  }
  return out;
}

/** The address bootpd last leased to `mac`, or null (no lease yet, or no lease file). */
export function guestIpFromLeases(file: string, mac: string): string | null {
  const want = normalizeMac(mac);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return null;
  }
  const hits = parseDhcpdLeases(text).filter((l) => l.mac === want);
  hits.sort((a, b) => b.lease - a.lease);
  return hits[0]?.ip ?? null;
}
