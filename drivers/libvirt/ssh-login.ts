// Who hotmount logs in as over SSH on a libvirt domain, and with which key. libvirt knows a
// domain's address (a hostfwd, the guest agent, a DHCP lease), never its users, so the login
// comes from, first to last:
//   1. what `hotmount libvirt ssh DOMAIN --user U --identity FILE` saved for that domain;
//   2. HOTMOUNT_LIBVIRT_SSH_USER (the user only, for every domain);
//   3. the user's OpenSSH config, as `ssh -G DOMAIN` resolves it: a User or IdentityFile that a
//      Host block gives this domain's name (and not every host: defaults are not taken);
//   4. root, with hotmount's own key.
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { writeJsonAtomic } from "../../src/core/instance-config.ts";
import { hotmountHome, sshKeyPath } from "../../src/core/paths.ts";

export interface SshLogin {
  user: string;
  identityFile: string;
  /** Where each part came from: flags, env, ssh-config or default. */
  from: { user: string; identityFile: string };
}

export interface SavedLogin {
  user?: string;
  identityFile?: string;
}

const savedPath = () => join(hotmountHome(), "libvirt-ssh.json");
const key = (uri: string, domain: string) => `${uri} ${domain}`;

function readSaved(): Record<string, SavedLogin> {
  try {
    return JSON.parse(readFileSync(savedPath(), "utf8")) as Record<string, SavedLogin>;
  } catch {
    return {};
  }
}

export function savedLogin(uri: string, domain: string): SavedLogin | null {
  return readSaved()[key(uri, domain)] ?? null;
}

/** Saves (or with null, forgets) the login flags for one domain. */
export function saveLogin(uri: string, domain: string, login: SavedLogin | null): void {
  const all = readSaved();
  if (login && (login.user || login.identityFile)) all[key(uri, domain)] = login;
  else delete all[key(uri, domain)];
  writeJsonAtomic(savedPath(), all);
}

/** `ssh -G` prints "keyword value" lines; the values of one keyword, in order. */
function values(out: string, keyword: string): string[] {
  return out
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.toLowerCase().startsWith(`${keyword} `))
    .map((l) => l.slice(keyword.length + 1).trim());
}

const expandHome = (p: string) => (p === "~" ? homedir() : p.startsWith("~/") ? join(homedir(), p.slice(2)) : p);

/** Pure: the User and IdentityFile `ssh -G DOMAIN` gives beyond what it gives a host no Host block names. */
export function sshConfigDelta(forDomain: string, forNobody: string): SavedLogin {
  const out: SavedLogin = {};
  const user = values(forDomain, "user")[0];
  if (user && user !== values(forNobody, "user")[0]) out.user = user;
  const base = new Set(values(forNobody, "identityfile"));
  const own = values(forDomain, "identityfile").filter((f) => !base.has(f));
  if (own.length) out.identityFile = own.map(expandHome).find((f) => existsSync(f)) ?? expandHome(own[0]!);
  return out;
}

/** Names no Host block is likely to match: what `ssh -G` says without any domain-specific block. */
const NOBODY = "hotmount-no-such-host.invalid";

/**
 * Kept a while per process: discovery asks for every domain on every `vm list` (the TUI polls it),
 * and `ssh -G` is a process spawned synchronously. An edit of the SSH config shows within the TTL.
 */
const SSH_G_TTL_MS = 30_000;
const sshGCache = new Map<string, { at: number; out: string }>();

function sshG(host: string): string {
  const cfg = process.env.HOTMOUNT_LIBVIRT_SSH_CONFIG;
  const k = `${cfg ?? ""}\0${host}`;
  const hit = sshGCache.get(k);
  if (hit && Date.now() - hit.at < SSH_G_TTL_MS) return hit.out;
  let out = "";
  try {
    const r = Bun.spawnSync(["ssh", ...(cfg ? ["-F", cfg] : []), "-G", "--", host], { stdout: "pipe", stderr: "ignore", timeout: 5000 });
    out = r.exitCode === 0 ? r.stdout.toString() : "";
  } catch {
    // no ssh client: nothing configured
  }
  sshGCache.set(k, { at: Date.now(), out });
  return out;
}

export function sshConfigLogin(domain: string): SavedLogin {
  if (!/^[A-Za-z0-9._-]+$/.test(domain)) return {};
  return sshConfigDelta(sshG(domain), sshG(NOBODY));
}

export function sshLogin(uri: string, domain: string): SshLogin {
  const saved = savedLogin(uri, domain) ?? {};
  const env = process.env.HOTMOUNT_LIBVIRT_SSH_USER;
  const conf = saved.user && saved.identityFile ? {} : sshConfigLogin(domain);
  const user: [string, string] = saved.user ? [saved.user, "flags"] : env ? [env, "env"] : conf.user ? [conf.user, "ssh-config"] : ["root", "default"];
  const id: [string, string] = saved.identityFile
    ? [saved.identityFile, "flags"]
    : conf.identityFile
      ? [conf.identityFile, "ssh-config"]
      : [sshKeyPath(), "default"];
  return { user: user[0], identityFile: id[0], from: { user: user[1], identityFile: id[1] } };
}
