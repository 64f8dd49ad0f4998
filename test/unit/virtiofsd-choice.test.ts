// Which virtiofsd hotmount takes when both flavours are on the host, and which sandbox the Rust
// one gets with and without root. The programs are stand-in scripts that answer --help and
// --version like the real ones (a process edge); the sandbox probe is the real kernel's.
import { afterAll, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chooseVirtiofsd } from "../../drivers/qemu/host-tools.ts";
import { isVirtiofsdCommand, virtiofsdArgv } from "../../drivers/qemu/virtiofsd.ts";
import { rustSandbox, unprivilegedUserNamespaces } from "../../drivers/qemu/virtiofsd-sandbox.ts";

const dir = mkdtempSync(`${tmpdir()}/hmt-vchoice-`);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function fake(name: string, help: string, version: string): string {
  const p = join(dir, name);
  writeFileSync(p, `#!/bin/sh\ncase "$1" in --help) echo '${help}';; --version) echo '${version}';; esac\n`);
  chmodSync(p, 0o755);
  return p;
}
const C = fake("c-virtiofsd", "usage: virtiofsd [options]\n    -o source=PATH", "virtiofsd version 7.2.22");
const RUST = fake("rust-virtiofsd", "Usage: virtiofsd --shared-dir <SHARED_DIR>\n --translate-uid <TRANSLATE_UID>", "virtiofsd 1.13.2");

test("the Rust virtiofsd is taken over the C one whichever comes first, and doctor is told why", () => {
  for (const order of [
    [C, RUST],
    [RUST, C],
  ]) {
    const v = chooseVirtiofsd(undefined, order)!;
    expect(v).toMatchObject({ path: RUST, flavour: "rust", version: "virtiofsd 1.13.2", translateIds: true });
    expect(v.why).toMatch(/maintained/);
  }
  expect(chooseVirtiofsd(undefined, [C, RUST])!.why).toContain(C);
  const only = chooseVirtiofsd(undefined, [C])!;
  expect(only).toMatchObject({ path: C, flavour: "c" });
  expect(only.why).toMatch(/only flavour/);
  expect(chooseVirtiofsd(undefined, [join(dir, "missing")])).toBeNull();
});

test("HOTMOUNT_VIRTIOFSD wins over a Rust one, even a C one; a missing one is not replaced", () => {
  expect(chooseVirtiofsd(C, [RUST])).toMatchObject({ path: C, flavour: "c", why: "HOTMOUNT_VIRTIOFSD" });
  expect(chooseVirtiofsd(join(dir, "missing"), [RUST])).toBeNull();
});

test("the same program under two names is probed once", () => {
  const link = join(dir, "c-link");
  symlinkSync(C, link);
  let probes = 0;
  const v = chooseVirtiofsd(undefined, [C, link], (p) => {
    probes++;
    return { path: p, flavour: "c", version: "7.2" };
  });
  expect(v?.path).toBe(C);
  expect(probes).toBe(1);
});

test("the Rust sandbox: namespace as root; namespace without root where user namespaces work; none only where refused", () => {
  expect(rustSandbox(0, () => false).mode).toBe("namespace");
  expect(rustSandbox(1000, () => true)).toMatchObject({ mode: "namespace", detail: expect.stringContaining("user namespace") });
  const refused = rustSandbox(1000, () => false);
  expect(refused.mode).toBe("none");
  expect(refused.detail).toMatch(/NOT sandboxed.*refuses unprivileged user namespaces/);
  // This kernel allows them (the non-root virtiofs tests rely on it).
  expect(unprivilegedUserNamespaces()).toBe(true);
  const spec = { socket: "/s", log: "/l", source: "/src", writable: true };
  const rust = { path: "/v", flavour: "rust" as const, version: "1.13" };
  expect(virtiofsdArgv(rust, spec, "namespace").join(" ")).toContain("--sandbox namespace");
  expect(virtiofsdArgv(rust, spec, "none").join(" ")).toContain("--sandbox none");
});

test("a virtiofsd is recognised by its argv, also when started through its own dynamic loader", () => {
  expect(isVirtiofsdCommand(["/usr/lib/qemu/virtiofsd", "--socket-path=/s"])).toBe(true);
  expect(isVirtiofsdCommand(["/x/usr/lib64/ld-linux-x86-64.so.2", "--library-path", "/x/lib", "/x/usr/libexec/virtiofsd", "--socket-path", "/s"])).toBe(true);
  expect(isVirtiofsdCommand(["/lib64/ld-linux-x86-64.so.2", "/usr/bin/sftp-server"])).toBe(false);
  expect(isVirtiofsdCommand(["unshare", "--mount", "--", "sh", "-c", "x", "hotmount-ro", "/src", "/usr/lib/qemu/virtiofsd"])).toBe(false);
  expect(isVirtiofsdCommand([])).toBe(false);
});
