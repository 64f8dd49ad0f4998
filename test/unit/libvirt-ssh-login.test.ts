// How hotmount picks the SSH login for a libvirt domain: the flags saved per domain, then
// HOTMOUNT_LIBVIRT_SSH_USER, then what the user's OpenSSH config gives that domain's name (the
// real `ssh -G`, with a config file of the test's own), then root with hotmount's key.
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { saveLogin, sshConfigDelta, sshLogin } from "../../drivers/libvirt/ssh-login.ts";
import { sshKeyPath } from "../../src/core/paths.ts";

const URI = "qemu:///system";
const dir = mkdtempSync(join(tmpdir(), "hm-sshlogin-"));
const key = join(dir, "id_dev");
writeFileSync(key, "not a real key\n", { mode: 0o600 });
const config = join(dir, "ssh_config");
writeFileSync(config, `Host devbox\n  User dev\n  IdentityFile ${key}\n\nHost *\n  ServerAliveInterval 30\n`);

afterEach(() => {
  delete process.env.HOTMOUNT_LIBVIRT_SSH_USER;
  delete process.env.HOTMOUNT_LIBVIRT_SSH_CONFIG;
  saveLogin(URI, "devbox", null);
  saveLogin(URI, "other", null);
});

describe("libvirt SSH login", () => {
  test("sshConfigDelta takes only what a Host block gives this name", () => {
    const nobody = "user me\nidentityfile ~/.ssh/id_rsa\nidentityfile ~/.ssh/id_ed25519\n";
    expect(sshConfigDelta(nobody, nobody)).toEqual({});
    expect(sshConfigDelta(`user dev\nidentityfile ${key}\nidentityfile ~/.ssh/id_rsa\n`, nobody)).toEqual({ user: "dev", identityFile: key });
  });

  test("the user's ssh config (ssh -G) for a domain it names; defaults otherwise", () => {
    process.env.HOTMOUNT_LIBVIRT_SSH_CONFIG = config;
    expect(sshLogin(URI, "devbox")).toEqual({ user: "dev", identityFile: key, from: { user: "ssh-config", identityFile: "ssh-config" } });
    expect(sshLogin(URI, "other")).toEqual({ user: "root", identityFile: sshKeyPath(), from: { user: "default", identityFile: "default" } });
  });

  test("HOTMOUNT_LIBVIRT_SSH_USER beats the ssh config; saved flags beat both, per domain", () => {
    process.env.HOTMOUNT_LIBVIRT_SSH_CONFIG = config;
    process.env.HOTMOUNT_LIBVIRT_SSH_USER = "envuser";
    expect(sshLogin(URI, "devbox")).toMatchObject({ user: "envuser", identityFile: key, from: { user: "env", identityFile: "ssh-config" } });
    expect(sshLogin(URI, "other").user).toBe("envuser");
    saveLogin(URI, "devbox", { user: "flaguser", identityFile: "/k/flag" });
    expect(sshLogin(URI, "devbox")).toEqual({ user: "flaguser", identityFile: "/k/flag", from: { user: "flags", identityFile: "flags" } });
    expect(sshLogin("qemu:///session", "devbox").user).toBe("envuser");
    saveLogin(URI, "devbox", null);
    expect(sshLogin(URI, "devbox").from.user).toBe("env");
  });
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));
