// aarch64 guests on QEMU's virt machine: the argv, the guest architecture's recipe and console.
import { expect, test } from "bun:test";
import { buildQemuArgv, type QemuArgvInput } from "../../drivers/qemu/argv-build.ts";
import { ARCH_PROFILES, hostGuestArch, parseGuestArch } from "../../src/guest-image/arch.ts";
import { baseAppend, demoGuestAppend } from "../../src/guest-image/contract.ts";
import { prunePaths, recipe, recipeKey } from "../../src/guest-image/recipe.ts";

const base: QemuArgvInput = {
  accel: "tcg",
  memoryMiB: 512,
  cpus: 2,
  slots: 8,
  ninePLinks: ["/i/9p/slot0"],
  kernel: "/k",
  initrd: "/i.img",
  append: "console=ttyAMA0",
  qmpSocket: "/i/qmp.sock",
  qgaSocket: "/i/qga.sock",
  serialLog: "/i/serial.log",
  sshPort: 40022,
  arch: "aarch64",
};
const values = (a: string[], flag: string) => a.flatMap((x, i) => (x === flag ? [a[i + 1]!] : []));

test("aarch64: virt with the same shared memfd RAM, root ports and 9p fsdevs as q35", () => {
  const a = buildQemuArgv("qemu-system-aarch64", base);
  const x = buildQemuArgv("qemu-system-x86_64", { ...base, arch: undefined });
  expect(values(a, "-machine")).toEqual(["virt,memory-backend=mem"]);
  expect(values(a, "-object")).toEqual(values(x, "-object"));
  expect(values(a, "-fsdev")).toEqual(values(x, "-fsdev"));
  const ports = (v: string[]) => values(v, "-device").filter((d) => d.startsWith("pcie-root-port"));
  expect(ports(a)).toEqual(ports(x));
  expect(ports(a)).toHaveLength(8);
  // Only the machine and the CPU model differ.
  const strip = (v: string[]) => v.slice(1).filter((s, i, all) => !["-machine", "-cpu"].includes(all[i - 1] ?? ""));
  expect(strip(a)).toEqual(strip(x));
});

test("aarch64 CPU: max with the cheap pointer-auth under TCG, host under KVM", () => {
  expect(values(buildQemuArgv("q", base), "-cpu")).toEqual(["max,pauth-impdef=on"]);
  expect(values(buildQemuArgv("q", { ...base, accel: "kvm" }), "-cpu")).toEqual(["host"]);
  expect(values(buildQemuArgv("q", { ...base, arch: "x86_64" }), "-cpu")).toEqual(["max"]);
});

test("aarch64: a cloud-init seed (an IDE cdrom, which virt has no bus for) is refused", () => {
  expect(() => buildQemuArgv("q", { ...base, seed: "/s.iso" })).toThrow(/seed/);
});

test("the x86_64 recipe key is unchanged by the arch parameter; aarch64 has its own", () => {
  expect(recipeKey("x86_64")).toBe(recipeKey());
  expect(recipe("x86_64")).not.toHaveProperty("arch");
  expect(recipeKey("aarch64")).not.toBe(recipeKey());
  expect(recipe("aarch64")).toMatchObject({ arch: "aarch64", kernel: "linux-image-arm64" });
  expect(prunePaths("aarch64")).toContain("usr/lib/aarch64-linux-gnu/gconv");
  expect(prunePaths("aarch64")).not.toContain("usr/lib/x86_64-linux-gnu/gconv");
});

test("serial console per architecture: ttyS0 (q35) and ttyAMA0 (virt's PL011)", () => {
  expect(baseAppend()).toContain("console=ttyS0");
  expect(baseAppend("aarch64")).toContain("console=ttyAMA0");
  expect(baseAppend("aarch64")).not.toContain("ttyS0");
  expect(demoGuestAppend("ssh-ed25519 AAAA c", undefined, "aarch64")).toStartWith("console=ttyAMA0 ");
});

test("architecture names", () => {
  expect(hostGuestArch("x64")).toBe("x86_64");
  expect(hostGuestArch("arm64")).toBe("aarch64");
  expect(parseGuestArch("arm64")).toBe("aarch64");
  expect(parseGuestArch("amd64")).toBe("x86_64");
  expect(() => parseGuestArch("riscv64")).toThrow();
  expect(ARCH_PROFILES.aarch64.debArch).toBe("arm64");
});
