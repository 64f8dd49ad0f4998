// Lima's <instance>/ssh.config, as written by the host agent at every start (pkg/hostagent
// writeSSHConfigFile + pkg/sshutil Format "config"):
//   Host lima-<instance>
//     IdentityFile "<LIMA_HOME>/_config/user"      (more IdentityFile lines with ssh.loadDotSSHPubKeys)
//     StrictHostKeyChecking no ... User <user> ... ControlPath "<dir>/ssh.sock" ...
//     Hostname 127.0.0.1
//     Port <port>
// Keys are case-insensitive for OpenSSH; values may be double-quoted.
import { existsSync, readFileSync } from "node:fs";
import type { SshInfo } from "../../src/core/model.ts";

export interface LimaSshConfig {
  host: string;
  hostname: string | null;
  port: number | null;
  user: string | null;
  identityFiles: string[];
}

const unquote = (v: string) =>
  v
    .trim()
    .replace(/^"(.*)"$/, "$1")
    .replace(/^'(.*)'$/, "$1")
    .trim();

/** The Host blocks of an ssh_config text; "Key Value" or "Key=Value" lines. */
export function parseSshConfig(text: string): LimaSshConfig[] {
  const out: LimaSshConfig[] = [];
  let cur: LimaSshConfig | null = null;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const m = /^(\S+?)(?:\s*=\s*|\s+)(.*)$/.exec(line);
    if (!m) continue;
    const key = m[1]!.toLowerCase();
    const value = unquote(m[2]!);
    if (key === "host") {
      cur = { host: value, hostname: null, port: null, user: null, identityFiles: [] };
      out.push(cur);
      continue;
    }
    if (!cur) continue;
    if (key === "hostname") cur.hostname = value;
    else if (key === "port") cur.port = Number(value);
    else if (key === "user") cur.user = value;
    else if (key === "identityfile") cur.identityFiles.push(value);
  }
  return out;
}

/** The SSH target of Lima instance `name` from its ssh.config, or null when it is missing or incomplete. */
export function limaSshTarget(sshConfigPath: string, name: string): SshInfo | null {
  if (!existsSync(sshConfigPath)) return null;
  const blocks = parseSshConfig(readFileSync(sshConfigPath, "utf8"));
  const b = blocks.find((x) => x.host === `lima-${name}`) ?? blocks[0];
  if (!b || !b.port || !Number.isInteger(b.port) || !b.user || !b.identityFiles.length) return null;
  // The first key is Lima's own (_config/user); later ones are ~/.ssh keys that may be gone.
  const identityFile = b.identityFiles.find((f) => existsSync(f)) ?? b.identityFiles[0]!;
  return { host: b.hostname ?? "127.0.0.1", port: b.port, user: b.user, identityFile };
}
