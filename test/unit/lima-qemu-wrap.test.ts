// The argv rewriter on Lima's own argument lists (test/fixtures/lima/qemu-argv.ts): it adds what
// hot-plug needs and leaves every Lima argument in place, in order.
import { expect, test } from "bun:test";
import { isQemuProbe, parseOptString, splitQemuArgs, wrapQemuArgv, type WrapInput } from "../../drivers/qemu/argv-rewrite.ts";
import { LIMA_PROBES, limaQemuArgv, type LimaArgvInput } from "../fixtures/lima/qemu-argv.ts";

const lima: LimaArgvInput = {
  instDir: "/home/u/.lima/default",
  name: "default",
  accel: "kvm",
  memoryMiB: 4096,
  cpus: 4,
  sshPort: 60022,
  mac: "52:55:55:12:34:56",
  mountType: "9p",
  mounts: [
    { location: "/home/u", writable: false },
    { location: "/tmp/lima", writable: true },
  ],
  firmware: "/usr/share/OVMF/OVMF_CODE_4M.fd",
  kernelCmdline: null,
};
const input: WrapInput = { slots: 8, ninePLinks: ["/h/i/default/9p/slot0", "/h/i/default/9p/slot1"], qmpSocket: "/h/i/default/qmp.sock", memfd: true };
const values = (a: string[], flag: string) => a.flatMap((x, i) => (x === flag ? [a[i + 1]!] : []));
const wrap = (l: Partial<LimaArgvInput>, i: Partial<WrapInput> = {}) =>
  wrapQemuArgv(["qemu-system-x86_64", ...limaQemuArgv({ ...lima, ...l })], { ...input, ...i });

test("Lima's argv survives whole and in order; hotmount's come first", () => {
  const orig = limaQemuArgv(lima);
  const r = wrap({});
  expect(r.argv[0]).toBe("qemu-system-x86_64");
  expect(r.argv.slice(r.argv.length - orig.length)).toEqual(orig);
  // Lima keeps its own QMP monitor; ours is a second one.
  expect(values(r.argv, "-qmp")).toEqual([`unix:${input.qmpSocket},server=on,wait=off`, "chardev:char-qmp"]);
});

test("9p mount type (Lima's QEMU default): memfd RAM sized from -m, on the merged -machine", () => {
  const r = wrap({ mountType: "9p", memoryMiB: 3072 });
  expect(r.memory).toBe("memfd-added");
  expect(r.memoryMiB).toBe(3072);
  expect(values(r.argv, "-object")).toEqual(["memory-backend-memfd,id=hm-mem,size=3072M,share=on"]);
  expect(values(r.argv, "-machine")).toEqual(["memory-backend=hm-mem", "q35,accel=kvm"]);
});

test("virtiofs mount type: Lima's shared -object/-numa pair is used as is, no second backend", () => {
  const r = wrap({ mountType: "virtiofs" });
  expect(r.memory).toBe("numa-shared");
  expect(values(r.argv, "-object")).toEqual([`memory-backend-file,id=virtiofs-shm,size=${4096 * 1024 * 1024},mem-path=/dev/shm,share=on`]);
  expect(values(r.argv, "-numa")).toEqual(["node,memdev=virtiofs-shm"]);
  expect(values(r.argv, "-machine").some((m) => m.includes("memory-backend"))).toBe(false);
});

test("TCG branch of Lima (q35,vmport=off + -accel tcg,...) is accepted and its accel read", () => {
  const r = wrap({ accel: "tcg" });
  expect(r.accel).toBe("tcg");
  expect(wrap({ accel: "kvm" }).accel).toBe("kvm");
  expect(r.cpus).toBe(4);
  expect(r.sshForward).toEqual({ host: "127.0.0.1", port: 60022 });
});

test("root ports take the top pcie.0 slots, 8 per slot, with unique ids and high chassis numbers", () => {
  for (const n of [1, 8, 9, 32]) {
    const r = wrap({}, { slots: n });
    const ports = values(r.argv, "-device").filter((d) => d.startsWith("pcie-root-port"));
    expect(ports.length).toBe(n);
    const field = (k: string) => ports.map((p) => parseOptString(p, "driver").props[k]!);
    expect(field("id")).toEqual(Array.from({ length: n }, (_, i) => `hp${i}`));
    for (const k of ["chassis", "addr"]) expect(new Set(field(k)).size).toBe(n);
    expect(field("chassis").every((c) => Number(c) >= 0xe0 && Number(c) <= 0xff)).toBe(true);
    expect(r.pciSlots).toEqual([0x1e, 0x1d, 0x1c, 0x1b].slice(0, Math.ceil(n / 8)));
    expect(ports.filter((p) => p.includes("multifunction=on")).length).toBe(Math.ceil(n / 8));
  }
});

test("reserved 9p fsdevs: a writable and a read-only one per slot link; Lima's -virtfs untouched", () => {
  const r = wrap({ mountType: "9p" });
  expect(values(r.argv, "-fsdev")).toEqual([
    "local,id=fsd0w,path=/h/i/default/9p/slot0,security_model=none",
    "local,id=fsd0r,path=/h/i/default/9p/slot0,security_model=none,readonly=on",
    "local,id=fsd1w,path=/h/i/default/9p/slot1,security_model=none",
    "local,id=fsd1r,path=/h/i/default/9p/slot1,security_model=none,readonly=on",
  ]);
  expect(values(r.argv, "-virtfs")).toEqual([
    "local,mount_tag=mount0,path=/home/u,security_model=none,readonly",
    "local,mount_tag=mount1,path=/tmp/lima,security_model=none",
  ]);
});

test("no memfd on the host (macOS): no shared RAM is added, the rest is", () => {
  const r = wrap({ mountType: "9p" }, { memfd: false });
  expect(r.memory).toBe("not-shared");
  expect(values(r.argv, "-object")).toEqual([]);
  expect(values(r.argv, "-device").filter((d) => d.startsWith("pcie-root-port")).length).toBe(8);
});

test("Lima's feature probes are recognised and left alone; a VM launch is not a probe", () => {
  for (const p of LIMA_PROBES) expect(isQemuProbe(p)).toBe(true);
  expect(isQemuProbe(limaQemuArgv(lima))).toBe(false);
  expect(isQemuProbe([])).toBe(false);
});

test("the argument splitter knows flags from valued options", () => {
  expect(splitQemuArgs(["-nodefaults", "-m", "512", "disk.img", "-S", "--machine", "q35", "-M", "pc"])).toEqual([
    { name: "nodefaults", value: null },
    { name: "m", value: "512" },
    { name: "", value: "disk.img" },
    { name: "S", value: null },
    { name: "machine", value: "q35" },
    { name: "machine", value: "pc" },
  ]);
  expect(parseOptString("local,path=/a,,b,readonly")).toEqual({ implied: "local", props: { path: "/a,b", readonly: "on" } });
});
