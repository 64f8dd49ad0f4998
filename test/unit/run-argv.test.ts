// The argv rewriter on plain user command lines (`hotmount run`): what it injects, and each
// conflict it refuses with a message that names the argument and a hint that says what to do.
import { expect, test } from "bun:test";
import { HotmountError } from "../../src/core/errors.ts";
import { wrapQemuArgv, type WrapInput } from "../../drivers/qemu/argv-rewrite.ts";

const input: WrapInput = { slots: 4, ninePLinks: ["/h/9p/slot0"], qmpSocket: "/h/qmp.sock", memfd: true };
const base = [
  "qemu-system-x86_64",
  "-machine",
  "q35",
  "-accel",
  "tcg",
  "-m",
  "1G",
  "-smp",
  "2",
  "-nodefaults",
  "-netdev",
  "user,id=n0,hostfwd=tcp:127.0.0.1:2222-:22",
  "-device",
  "virtio-net-pci,netdev=n0",
];
const values = (a: string[], flag: string) => a.flatMap((x, i) => (x === flag ? [a[i + 1]!] : []));

function refusal(argv: string[], i: Partial<WrapInput> = {}): HotmountError {
  try {
    wrapQemuArgv(argv, { ...input, ...i });
  } catch (e) {
    if (e instanceof HotmountError) return e;
    throw e;
  }
  throw new Error(`not refused: ${argv.join(" ")}`);
}

test("a plain q35 command line gets root ports, memfd RAM from -m, 9p fsdevs and a QMP socket", () => {
  const r = wrapQemuArgv(base, input);
  expect(r.argv.slice(-base.length + 1)).toEqual(base.slice(1));
  expect(r.memoryMiB).toBe(1024);
  expect(values(r.argv, "-object")).toEqual(["memory-backend-memfd,id=hm-mem,size=1024M,share=on"]);
  expect(values(r.argv, "-machine")).toEqual(["memory-backend=hm-mem", "q35"]);
  expect(values(r.argv, "-qmp")).toEqual(["unix:/h/qmp.sock,server=on,wait=off"]);
  expect(r.sshForward).toEqual({ host: "127.0.0.1", port: 2222 });
  expect(r.cpus).toBe(2);
  expect(r.accel).toBe("tcg");
});

test("-m forms: MiB by default, suffixes, size= with maxmem; no -m means QEMU's 128 MiB", () => {
  const mem = (m: string[]) => wrapQemuArgv(["q", "-M", "q35", ...m], input).memoryMiB;
  expect(mem(["-m", "2048"])).toBe(2048);
  expect(mem(["-m", "2G"])).toBe(2048);
  expect(mem(["-m", "size=3G,slots=2,maxmem=8G"])).toBe(3072);
  expect(mem([])).toBe(128);
  expect(refusal(["q", "-M", "q35", "-m", "lots"]).details).toEqual({ conflict: "memory-size" });
});

test("a machine without PCIe root ports (not q35, not virt) is refused, naming it; no -machine at all too", () => {
  const pc = refusal([...base.slice(0, 1), "-machine", "pc", ...base.slice(3)]);
  expect(pc.code).toBe("UNSUPPORTED");
  expect(pc.message).toContain("-machine pc");
  expect(pc.hint).toContain("-machine q35");
  expect(refusal(["q", "-m", "1G"]).message).toContain("no -machine");
  expect(refusal(["q", "-M", "microvm"]).details).toEqual({ conflict: "machine" });
  expect(refusal(["qemu-system-aarch64", "-M", "raspi3b"]).details).toEqual({ conflict: "machine" });
  const bare = refusal(["/usr/bin/qemu-system-aarch64", "-m", "1G"]);
  expect(bare.message).toContain("no -machine");
  expect(bare.hint).toContain("-machine virt");
  // Versioned q35 types are q35.
  expect(wrapQemuArgv(["q", "-machine", "pc-q35-7.2,accel=tcg"], input).accel).toBe("tcg");
});

test("the user's own memory backend: refused unless it is shared, then kept as is", () => {
  const own = refusal([...base, "-object", "memory-backend-ram,id=m0,size=1G", "-machine", "memory-backend=m0"]);
  expect(own.details).toEqual({ conflict: "memory-backend" });
  expect(own.message).toContain("memory-backend=m0");
  expect(own.hint).toContain("share=on");
  const file = refusal([...base, "-object", "memory-backend-file,id=m0,size=1G,mem-path=/dev/shm", "-machine", "memory-backend=m0"]);
  expect(file.details).toEqual({ conflict: "memory-backend" });
  const ok = wrapQemuArgv([...base, "-object", "memory-backend-memfd,id=m0,size=1G", "-machine", "memory-backend=m0"], input);
  expect(ok.memory).toBe("own-shared-backend");
  expect(values(ok.argv, "-object")).toEqual(["memory-backend-memfd,id=m0,size=1G"]);
});

test("NUMA nodes without a shared memdev are refused", () => {
  expect(refusal([...base, "-numa", "node,mem=1G"]).details).toEqual({ conflict: "numa" });
  expect(refusal([...base, "-object", "memory-backend-ram,id=r,size=1G", "-numa", "node,memdev=r"]).details).toEqual({ conflict: "numa" });
});

test("no free PCIe slot: refused with how many slots are taken", () => {
  const many = Array.from({ length: 29 }, (_, i) => ["-device", `virtio-rng-pci,id=r${i}`]).flat();
  const e = refusal([...base, ...many]);
  expect(e.details).toEqual({ conflict: "pcie-slots" });
  expect(e.message).toContain("no free PCIe bus slot");
  // Explicit addresses are skipped over.
  const r = wrapQemuArgv([...base, "-device", "virtio-rng-pci,addr=0x1e"], input);
  expect(r.pciSlots).toEqual([0x1d]);
});

test("ids and chassis numbers hotmount needs are refused when taken; -daemonize too", () => {
  expect(refusal([...base, "-device", "pcie-root-port,id=hp0,chassis=1"]).details).toEqual({ conflict: "ids" });
  expect(refusal([...base, "-fsdev", "local,id=fsd0w,path=/x,security_model=none"]).message).toContain("fsd0w");
  expect(refusal([...base, "-device", "pcie-root-port,id=rp,chassis=225"]).details).toEqual({ conflict: "chassis" });
  expect(refusal([...base, "-daemonize"]).details).toEqual({ conflict: "daemonize" });
  expect(refusal(base, { slots: 0 }).code).toBe("INVALID_ARGUMENT");
});
