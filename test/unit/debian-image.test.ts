// The Debian guest's pure parts: reading the mirror from apt's sources, the cloud-init seed,
// the build's progress filter and mount guard, and the ownership options per transport.
import { expect, test } from "bun:test";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rustTranslateArgs, virtiofsdArgv } from "../../drivers/qemu/virtiofsd.ts";
import { parseId } from "../../src/agent/transports/guest-owner.ts";
import { reverseSshfsArgv } from "../../src/core/mount-options.ts";
import { READY_MARKER } from "../../src/guest-image/contract.ts";
import { debootstrapProgress, dropCloudInitModules, mountsUnder } from "../../src/guest-image/debian/build.ts";
import { aptSources, debianMirror, parseDeb822, parseOneLine } from "../../src/guest-image/debian/mirror.ts";
import { debianRecipeKey } from "../../src/guest-image/debian/recipe.ts";
import { metaData, userData } from "../../src/guest-image/debian/seed.ts";

// Made-up hosts (reserved .invalid names): the tests need URIs, never a real mirror.
const DEB822 = `# comment
Types: deb deb-src
URIs: http://one.invalid/debian
Suites: bookworm bookworm-updates
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://two.invalid/debian-security
Suites: bookworm-security
Components: main

Types: deb
Enabled: no
URIs: http://off.invalid/debian
Suites: bookworm
Components: main
`;

test("deb822 sources: URIs, suites, components, keyring; disabled stanzas skipped", () => {
  const s = parseDeb822(DEB822, "x.sources");
  expect(s.map((x) => x.uri)).toEqual(["http://one.invalid/debian", "http://two.invalid/debian-security"]);
  expect(s[0]).toMatchObject({
    suites: ["bookworm", "bookworm-updates"],
    components: ["main", "contrib"],
    keyring: "/usr/share/keyrings/debian-archive-keyring.gpg",
  });
  expect(debianMirror("bookworm", s).uri).toBe("http://one.invalid/debian");
});

test("one-line sources, and the search order: sources.list.d first, then sources.list", () => {
  const l = parseOneLine("deb [arch=amd64 signed-by=/k.gpg] http://three.invalid/debian bookworm main # x\n# deb http://no.invalid bookworm main\n", "s.list");
  expect(l).toEqual([{ uri: "http://three.invalid/debian", suites: ["bookworm"], components: ["main"], keyring: "/k.gpg", file: "s.list" }]);
  const etc = mkdtempSync(`${tmpdir()}/hmt-apt-`);
  try {
    mkdirSync(join(etc, "sources.list.d"));
    writeFileSync(join(etc, "sources.list"), "deb http://three.invalid/debian bookworm main\n");
    expect(debianMirror("bookworm", aptSources(etc)).uri).toBe("http://three.invalid/debian");
    writeFileSync(join(etc, "sources.list.d", "debian.sources"), DEB822);
    expect(debianMirror("bookworm", aptSources(etc)).uri).toBe("http://one.invalid/debian");
    expect(() => debianMirror("trixie", aptSources(etc))).toThrow(/no source for Debian trixie main/);
  } finally {
    rmSync(etc, { recursive: true, force: true });
  }
});

test("user-data: user dev with the key, NOPASSWD sudo, the TCG settings, the ready marker", () => {
  const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB hotmount";
  const text = userData({ instanceId: "hm-x-1", hostname: "x", user: "dev", publicKeyLine: key });
  expect(text.startsWith("#cloud-config\n")).toBe(true);
  const cfg = JSON.parse(text.slice(text.indexOf("\n")));
  expect(cfg.users).toEqual([expect.objectContaining({ name: "dev", groups: ["sudo"], sudo: "ALL=(ALL) NOPASSWD:ALL", ssh_authorized_keys: [key] })]);
  expect(cfg).toMatchObject({ ssh_genkeytypes: ["ed25519"], manage_etc_hosts: "localhost", final_message: READY_MARKER });
  // The locale module is dropped from the image's cloud.cfg instead: "locale: false" fails cloud-init's schema check.
  expect(cfg.locale).toBeUndefined();
  expect(JSON.parse(metaData({ instanceId: "hm-x-1", hostname: "x", user: "dev", publicKeyLine: key }))).toEqual({
    "instance-id": "hm-x-1",
    "local-hostname": "x",
  });
});

test("the image key does not depend on the mirror or the environment", () => {
  const k = debianRecipeKey();
  expect(k).toMatch(/^[0-9a-f]{64}$/);
  process.env.HOTMOUNT_CACHE = "/elsewhere";
  try {
    expect(debianRecipeKey()).toBe(k);
  } finally {
    delete process.env.HOTMOUNT_CACHE;
  }
});

test("debootstrap progress: per-package lines become counts, phases pass through", () => {
  const said: string[] = [];
  const p = debootstrapProgress((l) => said.push(l));
  p("I: Retrieving InRelease");
  for (let i = 0; i < 85; i++) p(`I: Retrieving pkg${i} 1.${i}`);
  p("I: Extracting base-files...");
  p("I: Unpacking libc6:amd64...");
  p("dpkg noise");
  p("I: Base system installed successfully.");
  expect(said).toEqual([
    "  Retrieving InRelease",
    "  retrieving 40 packages",
    "  retrieving 80 packages",
    "  retrieving 85 packages",
    "  extracting 1 packages",
    "  unpacking 1 packages",
    "  Base system installed successfully.",
  ]);
});

test("cloud.cfg: a dropped module's line goes, nothing else; a missing one is an error", () => {
  const cfg = "cloud_config_modules:\n - locale\n - set-passwords\n\n - [localex, always]\ncloud_final_modules:\n - [locale, always]\n";
  expect(dropCloudInitModules(cfg, ["locale"])).toBe(
    "cloud_config_modules:\n - set-passwords\n\n - [localex, always]\ncloud_final_modules:\n - [locale, always]\n",
  );
  expect(dropCloudInitModules("a:\n - [locale, always]\n", ["locale"])).toBe("a:\n");
  expect(() => dropCloudInitModules("a:\n - localex\n", ["locale"])).toThrow(/no "locale" module line/);
});

test("mounts under a work dir are found (so a failed build never deletes through /proc)", () => {
  const text =
    "proc /proc proc rw 0 0\nproc /c/.build-1/root/proc proc rw 0 0\nsys /c/.build-1/root/sys sysfs rw 0 0\nx /c/.build-10 ext4 rw 0 0\nx /c/.build-1\\040x ext4 rw 0 0\n";
  expect(mountsUnder("/c/.build-1", text)).toEqual(["/c/.build-1/root/proc", "/c/.build-1/root/sys"]);
});

test("reverse-sshfs: a non-root guest user gets uid=/gid=; root keeps host ids (idmap=none)", () => {
  const opts = (a: string[]) => a[a.indexOf("-o") + 1]!.split(",");
  expect(opts(reverseSshfsArgv("/h", "/m", true))).not.toContain("uid=1000");
  const o = opts(reverseSshfsArgv("/h", "/m", true, { uid: 1000, gid: 1001 }));
  expect(o).toEqual(expect.arrayContaining(["idmap=none", "uid=1000", "gid=1001", "default_permissions", "rw"]));
  expect(parseId("uid=1000(dev) gid=1001(dev) groups=1001(dev),27(sudo)\n")).toEqual({ uid: 1000, gid: 1001 });
  expect(parseId("id: 'x': no such user")).toBeNull();
});

test("virtiofs: the Rust virtiofsd with --translate-uid maps the guest user; others get no flag", () => {
  expect(rustTranslateArgs({ uid: 1000, gid: 1000 }, { uid: 0, gid: 0 })).toEqual([
    "--translate-uid=squash-guest:0:0:4294967295",
    "--translate-uid=host:0:1000:1",
    "--translate-gid=squash-guest:0:0:4294967295",
    "--translate-gid=host:0:1000:1",
  ]);
  const spec = { socket: "/s", log: "/l", source: "/src", writable: true, owner: { uid: 1000, gid: 1000 } };
  const has = (a: string[]) => a.some((x) => x.startsWith("--translate-uid"));
  expect(has(virtiofsdArgv({ path: "/v", flavour: "rust", version: "1.13", translateIds: true }, spec))).toBe(true);
  expect(has(virtiofsdArgv({ path: "/v", flavour: "rust", version: "1.10", translateIds: false }, spec))).toBe(false);
  expect(has(virtiofsdArgv({ path: "/v", flavour: "c", version: "7.2" }, spec))).toBe(false);
  expect(has(virtiofsdArgv({ path: "/v", flavour: "rust", version: "1.13", translateIds: true }, { ...spec, owner: undefined }))).toBe(false);
});
