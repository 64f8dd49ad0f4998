// The QEMU argv builder: pure, so every property the VM depends on is checked here.
import { expect, test } from "bun:test";
import { kvmProbeArgv } from "../../drivers/qemu/accel.ts";
import { buildQemuArgv, type QemuArgvInput } from "../../drivers/qemu/argv-build.ts";
import { demoGuestAppend } from "../../src/guest-image/contract.ts";

const base: QemuArgvInput = {
  accel: "tcg",
  memoryMiB: 512,
  cpus: 2,
  slots: 8,
  ninePLinks: ["/i/9p/slot0", "/i/9p/slot1"],
  kernel: "/k",
  initrd: "/i.img",
  append: "console=ttyS0",
  qmpSocket: "/i/qmp.sock",
  qgaSocket: "/i/qga.sock",
  serialLog: "/i/serial.log",
  sshPort: 40022,
};
const values = (a: string[], flag: string) => a.flatMap((x, i) => (x === flag ? [a[i + 1]!] : []));

test("shared memfd RAM sized exactly to -m, on q35", () => {
  const a = buildQemuArgv("qemu", { ...base, memoryMiB: 1536 });
  expect(values(a, "-m")).toEqual(["1536M"]);
  expect(values(a, "-object")).toContain("memory-backend-memfd,id=mem,size=1536M,share=on");
  expect(values(a, "-machine")).toEqual(["q35,memory-backend=mem"]);
});

test("N spare root ports with unique ids, chassis, slots and addresses", () => {
  for (const n of [1, 8, 9, 32]) {
    const ports = values(buildQemuArgv("qemu", { ...base, slots: n }), "-device").filter((d) => d.startsWith("pcie-root-port"));
    expect(ports.length).toBe(n);
    const field = (k: string) => ports.map((p) => new RegExp(`${k}=([^,]+)`).exec(p)![1]);
    for (const k of ["id", "chassis", "slot", "addr"]) expect(new Set(field(k)).size).toBe(n);
    expect(field("bus").every((b) => b === "pcie.0")).toBe(true);
    // Function 0 of every PCI slot carries multifunction=on, so 8 ports share one slot.
    expect(ports.filter((p) => p.includes("multifunction=on")).length).toBe(Math.ceil(n / 8));
  }
});

test("slots outside 1..32 are refused with a clear error", () => {
  expect(() => buildQemuArgv("qemu", { ...base, slots: 0 })).toThrow(/between 1 and 32/);
  expect(() => buildQemuArgv("qemu", { ...base, slots: 33 })).toThrow(/between 1 and 32/);
});

test("accelerator: TCG uses -cpu max, KVM -cpu host", () => {
  const t = buildQemuArgv("qemu", base);
  expect(values(t, "-accel")).toEqual(["tcg"]);
  expect(values(t, "-cpu")).toEqual(["max"]);
  const k = buildQemuArgv("qemu", { ...base, accel: "kvm" });
  expect(values(k, "-accel")).toEqual(["kvm"]);
  expect(values(k, "-cpu")).toEqual(["host"]);
});

test("QMP socket, serial log, SSH forwarded from loopback only", () => {
  const a = buildQemuArgv("qemu", base);
  expect(values(a, "-qmp")).toEqual(["unix:/i/qmp.sock,server=on,wait=off"]);
  expect(values(a, "-serial")).toEqual(["file:/i/serial.log"]);
  expect(values(a, "-netdev")[0]).toContain("hostfwd=tcp:127.0.0.1:40022-:22");
  expect(a).toContain("-nodefaults");
});

test("each 9p slot reserves a writable and a read-only fsdev on its symlink", () => {
  const f = values(buildQemuArgv("qemu", base), "-fsdev");
  expect(f).toEqual([
    "local,id=fsd0w,path=/i/9p/slot0,security_model=none",
    "local,id=fsd0r,path=/i/9p/slot0,security_model=none,readonly=on",
    "local,id=fsd1w,path=/i/9p/slot1,security_model=none",
    "local,id=fsd1r,path=/i/9p/slot1,security_model=none,readonly=on",
  ]);
  expect(() => buildQemuArgv("qemu", { ...base, ninePLinks: ["/a,b"] })).toThrow(/comma/);
});

test("qemu-guest-agent channel: a virtio-serial port named org.qemu.guest_agent.0 on a non-waiting socket", () => {
  const a = buildQemuArgv("qemu", base);
  expect(values(a, "-device")).toContain("virtio-serial-pci,id=vser0");
  expect(values(a, "-chardev")).toContain("socket,id=qga0,path=/i/qga.sock,server=on,wait=off");
  expect(values(a, "-device")).toContain("virtserialport,bus=vser0.0,chardev=qga0,name=org.qemu.guest_agent.0");
});

test("a disk image: the overlay on virtio-blk, the seed ISO as an AHCI cdrom; neither without them", () => {
  const plain = buildQemuArgv("qemu", base);
  expect(values(plain, "-drive")).toEqual([]);
  const a = buildQemuArgv("qemu", { ...base, disk: "/i/disk.qcow2", seed: "/i/seed.iso" });
  expect(values(a, "-drive")).toEqual([
    "file=/i/disk.qcow2,format=qcow2,if=none,id=disk0,discard=unmap",
    "file=/i/seed.iso,format=raw,if=none,id=seed0,media=cdrom,readonly=on",
  ]);
  const dev = values(a, "-device");
  expect(dev).toContain("virtio-blk-pci,drive=disk0");
  // ide.0 is q35's built-in AHCI controller: the cdrom never takes /dev/vda from the root disk.
  expect(dev).toContain("ide-cd,bus=ide.0,drive=seed0");
  expect(() => buildQemuArgv("qemu", { ...base, disk: "/a,b/disk.qcow2" })).toThrow(/comma/);
});

/** An argv as its options, each with its value if it has one, in a fixed order. */
const options = (a: string[]) =>
  a
    .slice(1)
    .reduce<string[][]>((g, x) => (x.startsWith("-") ? [...g, [x]] : [...g.slice(0, -1), [...g.at(-1)!, x]]), [])
    .map((o) => o.join(" "))
    .sort();

test("the KVM probe boots with the VM's parts and no more than the command line it had by hand", () => {
  const guest = { kernel: "/c/vmlinuz", initrd: "/c/initramfs.img" };
  for (const arch of ["x86_64", "aarch64"] as const) {
    const probe = kvmProbeArgv("qemu", arch, guest, "/t/serial.log");
    const byHand = [
      "qemu",
      ...(arch === "aarch64" ? ["-machine", "virt,gic-version=host"] : []),
      ...["-accel", "kvm", "-cpu", "host", "-m", "256M", "-smp", "1", "-nodefaults", "-display", "none", "-no-reboot"],
      ...["-kernel", guest.kernel, "-initrd", guest.initrd],
      ...["-append", demoGuestAppend("ssh-ed25519 AAAA probe", "hotmount.probe=1", arch), "-serial", "file:/t/serial.log"],
    ];
    expect(probe[0]).toBe("qemu");
    expect(options(probe)).toEqual(options(byHand));
    expect(probe.length).toBe(arch === "aarch64" ? 23 : 21);
    // The same parts as the VM's own argv, where the probe has them.
    const vm = buildQemuArgv("qemu", { ...base, accel: "kvm", arch, kernel: guest.kernel, initrd: guest.initrd });
    for (const flag of ["-accel", "-cpu", "-kernel", "-initrd"]) expect(values(probe, flag)).toEqual(values(vm, flag));
  }
});
