// `hotmount run` / qemu-wrap on aarch64 command lines: QEMU's virt machine is accepted like q35,
// including Lima's arm64 command line (virt, pflash UEFI firmware, /dev/shm share=on memory).
import { expect, test } from "bun:test";
import { PCIE_MACHINE_RE, wrapQemuArgv, type WrapInput } from "../../drivers/qemu/argv-rewrite.ts";

const input: WrapInput = { slots: 4, ninePLinks: ["/h/9p/slot0"], qmpSocket: "/h/qmp.sock", memfd: true };
const values = (a: string[], flag: string) => a.flatMap((x, i) => (x === flag ? [a[i + 1]!] : []));

test("virt and versioned virt types are PCIe machines; raspi and microvm are not", () => {
  for (const m of ["q35", "pc-q35-7.2", "virt", "virt-7.2", "virt-10.0"]) expect(PCIE_MACHINE_RE.test(m)).toBe(true);
  for (const m of ["pc", "microvm", "raspi3b", "sbsa-ref", "virtual"]) expect(PCIE_MACHINE_RE.test(m)).toBe(false);
});

test("a plain aarch64 virt command line gets root ports on pcie.0, memfd RAM from -m, 9p fsdevs and QMP", () => {
  const base = ["qemu-system-aarch64", "-machine", "virt", "-cpu", "max", "-accel", "tcg", "-m", "1G", "-nodefaults", "-kernel", "/k"];
  const r = wrapQemuArgv(base, input);
  expect(r.argv.slice(-base.length + 1)).toEqual(base.slice(1));
  expect(values(r.argv, "-machine")).toEqual(["memory-backend=hm-mem", "virt"]);
  expect(values(r.argv, "-object")).toEqual(["memory-backend-memfd,id=hm-mem,size=1024M,share=on"]);
  const ports = values(r.argv, "-device").filter((d) => d.startsWith("pcie-root-port"));
  expect(ports).toHaveLength(4);
  for (const p of ports) expect(p).toContain("bus=pcie.0");
  expect(values(r.argv, "-fsdev")).toHaveLength(2);
  expect(r.memory).toBe("memfd-added");
  expect(r.accel).toBe("tcg");
});

test("Lima's arm64 command line: virt with accel in -machine, pflash firmware, /dev/shm share=on memory on a numa node", () => {
  // As Lima 1.x builds it for an aarch64 instance with vmType qemu and mountType virtiofs.
  const lima = [
    "/opt/lima/bin/qemu-system-aarch64",
    "-m",
    "4096",
    "-cpu",
    "max",
    "-machine",
    "virt,accel=tcg,highmem=on",
    "-smp",
    "4,sockets=1,cores=4,threads=1",
    "-drive",
    "if=pflash,format=raw,readonly=on,file=/usr/share/AAVMF/AAVMF_CODE.fd",
    "-drive",
    "file=/root/.lima/default/diffdisk,if=virtio,discard=on",
    "-cdrom",
    "/root/.lima/default/cidata.iso",
    "-netdev",
    "user,id=net0,net=192.168.5.0/24,dhcpstart=192.168.5.15,hostfwd=tcp:127.0.0.1:60022-:22",
    "-device",
    "virtio-net-pci,netdev=net0,mac=52:55:55:12:34:56",
    "-object",
    "memory-backend-file,id=virtiofs-shm,size=4096M,mem-path=/dev/shm,share=on",
    "-numa",
    "node,memdev=virtiofs-shm",
    "-chardev",
    "socket,id=char-serial,path=/root/.lima/default/serial.sock,server=on,wait=off",
    "-serial",
    "chardev:char-serial",
    "-device",
    "qemu-xhci,id=usb-bus",
    "-parallel",
    "none",
    "-name",
    "lima-default",
    "-pidfile",
    "/root/.lima/default/qemu.pid",
  ];
  const r = wrapQemuArgv(lima, input);
  // Lima's shared RAM is kept: no memfd of ours, no -machine memory-backend added.
  expect(r.memory).toBe("numa-shared");
  expect(values(r.argv, "-object")).toEqual(["memory-backend-file,id=virtiofs-shm,size=4096M,mem-path=/dev/shm,share=on"]);
  expect(values(r.argv, "-machine")).toEqual(["virt,accel=tcg,highmem=on"]);
  expect(values(r.argv, "-device").filter((d) => d.startsWith("pcie-root-port"))).toHaveLength(4);
  expect(r.argv.slice(-lima.length + 1)).toEqual(lima.slice(1));
  expect(r.accel).toBe("tcg");
  expect(r.cpus).toBe(4);
  expect(r.sshForward).toEqual({ host: "127.0.0.1", port: 60022 });
});
