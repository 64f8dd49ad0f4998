// The Debian mirror comes from the host's own apt configuration at run time, never from this
// repository: deb822 files (sources.list.d/*.sources) first, then one-line sources.list files.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { HotmountError } from "../../core/errors.ts";

export interface AptSource {
  uri: string;
  suites: string[];
  components: string[];
  /** Signed-By keyring file, when the source names one. */
  keyring?: string;
  /** The file it came from, for messages. */
  file: string;
}

/** Parses a deb822 .sources file: stanzas separated by blank lines; only "Types: deb" ones count. */
export function parseDeb822(text: string, file: string): AptSource[] {
  const out: AptSource[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const f: Record<string, string> = {};
    let last = "";
    for (const line of stanza.split("\n")) {
      if (/^\s*#/.test(line) || !line.trim()) continue;
      const m = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
      if (m) f[(last = m[1]!.toLowerCase())] = m[2]!.trim();
      else if (last && /^\s/.test(line)) f[last] += ` ${line.trim()}`; // continuation line
    }
    if (!(f.types ?? "").split(/\s+/).includes("deb") || /^no$/i.test(f.enabled ?? "")) continue;
    const keyring = f["signed-by"] && !f["signed-by"].includes("\n") && f["signed-by"].startsWith("/") ? f["signed-by"].split(/\s+/)[0] : undefined;
    for (const uri of (f.uris ?? "").split(/\s+/).filter(Boolean)) {
      out.push({ uri, suites: (f.suites ?? "").split(/\s+/).filter(Boolean), components: (f.components ?? "").split(/\s+/).filter(Boolean), keyring, file });
    }
  }
  return out;
}

/** Parses one-line sources: "deb [opts] URI SUITE COMPONENT...". */
export function parseOneLine(text: string, file: string): AptSource[] {
  const out: AptSource[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*/, "").trim();
    const m = /^deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)\s*(.*)$/.exec(line);
    if (!m) continue;
    const keyring = /signed-by=(\S+)/.exec(m[1] ?? "")?.[1];
    out.push({ uri: m[2]!, suites: [m[3]!], components: m[4]!.split(/\s+/).filter(Boolean), keyring, file });
  }
  return out;
}

export function aptSources(etc = "/etc/apt"): AptSource[] {
  const files: string[] = [];
  const d = join(etc, "sources.list.d");
  if (existsSync(d))
    files.push(
      ...readdirSync(d)
        .sort()
        .map((n) => join(d, n)),
    );
  files.push(join(etc, "sources.list"));
  const out: AptSource[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    if (file.endsWith(".sources")) out.push(...parseDeb822(text, file));
    else if (file.endsWith(".list")) out.push(...parseOneLine(text, file));
  }
  return out;
}

/** The source that serves `suite` with the main component: debootstrap's mirror argument. */
export function debianMirror(suite: string, sources: AptSource[] = aptSources()): AptSource {
  const s = sources.find((x) => x.suites.includes(suite) && x.components.includes("main") && /^(https?|file):/.test(x.uri));
  if (!s) {
    throw new HotmountError("HOST_DEPENDENCY_MISSING", `apt on this host has no source for Debian ${suite} main`, {
      hint: `The Debian guest is built from the host's apt sources: add a "${suite} main" source (deb822 in /etc/apt/sources.list.d/*.sources, or /etc/apt/sources.list) and run apt-get update.`,
      details: { found: sources.map((x) => `${x.file}: ${x.suites.join(",")}`) },
    });
  }
  return s;
}
