// `hotmount libvirt prepare DOMAIN`: edits one domain's persistent XML so that its next boot is
// hot-plug ready: memfd shared memory (virtiofs maps guest RAM), N spare pcie-root-ports (one per
// concurrent mount) and the qemu-guest-agent channel (guest commands without SSH). The edit is
// additive and idempotent; it is shown as a diff before libvirt gets it (`virsh define`), and it
// touches only the domain it was named.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HotmountError } from "../../src/core/errors.ts";
import { QGA_PORT_NAME } from "../../src/guest-image/contract.ts";
import { virsh, virshMessage, virshOk } from "../../src/util/virsh.ts";
import { parseDomain } from "./domain-xml.ts";

export interface PrepareResult {
  domain: string;
  uri: string;
  changes: string[];
  diff: string;
  applied: boolean;
  /** The domain runs: the change takes effect when libvirt next boots it. */
  nextBoot: boolean;
}

/** Pure: the persistent XML with what is missing added, and the list of what was added. */
export function prepareXml(xml: string, slots: number): { xml: string; changes: string[] } {
  const v = parseDomain(xml);
  const changes: string[] = [];
  let out = xml;
  // q35 (x86_64) and virt (aarch64) both have a PCIe root complex that takes pcie-root-ports.
  if (!/machine=['"]([^'"]*q35[^'"]*|virt(-[\d.]+)?)['"]/.test(xml)) {
    throw new HotmountError(
      "UNSUPPORTED",
      `domain "${v.name}" is not a q35 machine nor an aarch64 virt one (${v.machine || "unknown"}): PCIe root ports need q35 or virt`,
      {
        hint: "Hot-plugging virtiofs needs a q35 (or, on aarch64, virt) machine type; an i440fx domain cannot be converted in place. Use --type reverse-sshfs for it.",
      },
    );
  }
  if (!v.sharedMemory) {
    if (/<memoryBacking>/.test(out)) {
      const hasSource = /<memoryBacking>[\s\S]*?<source\b[\s\S]*?<\/memoryBacking>/.test(out);
      out = out.replace("<memoryBacking>", `<memoryBacking>\n    ${hasSource ? "" : "<source type='memfd'/>\n    "}<access mode='shared'/>`);
    } else {
      out = out.replace(
        /(\n(\s*)<currentMemory[^\n]*\n|\n(\s*)<memory[^\n]*\n)/,
        (m) => `${m}  <memoryBacking>\n    <source type='memfd'/>\n    <access mode='shared'/>\n  </memoryBacking>\n`,
      );
    }
    changes.push("memfd shared memory backing (virtiofs maps guest RAM)");
  }
  const missing = Math.max(0, slots - v.freeRootPorts.length);
  const add: string[] = [];
  for (let i = 0; i < missing; i++) add.push("    <controller type='pci' model='pcie-root-port'/>");
  if (missing) changes.push(`${missing} spare pcie-root-port controller(s) (${v.freeRootPorts.length} free now, ${slots} wanted)`);
  if (v.agentChannel === "absent") {
    add.push(`    <channel type='unix'>\n      <target type='virtio' name='${QGA_PORT_NAME}'/>\n    </channel>`);
    changes.push("the qemu-guest-agent channel (the guest still needs qemu-guest-agent installed)");
  }
  if (add.length) out = out.replace(/\n(\s*)<\/devices>/, `\n${add.join("\n")}\n  </devices>`);
  return { xml: out, changes };
}

function unifiedDiff(a: string, b: string, name: string): string {
  const dir = mkdtempSync(join(tmpdir(), "hm-prepare-"));
  try {
    writeFileSync(join(dir, "a"), a);
    writeFileSync(join(dir, "b"), b);
    const r = spawnSync("diff", ["-u", "--label", `${name} (now)`, "--label", `${name} (prepared)`, join(dir, "a"), join(dir, "b")], { encoding: "utf8" });
    return r.stdout ?? "";
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function prepareDomain(o: {
  uri: string;
  domain: string;
  slots: number;
  nextBoot: boolean;
  dryRun: boolean;
  show: (diff: string) => void;
}): Promise<PrepareResult> {
  const st = await virsh(o.uri, ["domstate", o.domain], { timeoutMs: 10_000 });
  if (st.code !== 0)
    throw new HotmountError("INSTANCE_NOT_FOUND", `no libvirt domain "${o.domain}" on ${o.uri}: ${virshMessage(st)}`, {
      hint: `See \`virsh -c ${o.uri} list --all\`.`,
    });
  const running = !/shut off|crashed/.test(st.stdout);
  const before = await virshOk(o.uri, ["dumpxml", "--inactive", "--security-info", o.domain], { timeoutMs: 15_000 });
  const { xml, changes } = prepareXml(before, o.slots);
  const diff = changes.length ? unifiedDiff(before, xml, o.domain) : "";
  const res: PrepareResult = { domain: o.domain, uri: o.uri, changes, diff, applied: false, nextBoot: running };
  if (!changes.length) return res;
  o.show(diff);
  if (o.dryRun) return res;
  if (running && !o.nextBoot) {
    throw new HotmountError("INSTANCE_ALREADY_RUNNING", `libvirt domain "${o.domain}" is running: its persistent XML would change only for the next boot`, {
      hint: `Re-run with --next-boot to apply it for the next boot (then shut the domain down and start it), or shut it down first.`,
      details: { changes },
    });
  }
  const dir = mkdtempSync(join(tmpdir(), "hm-prepare-"));
  try {
    writeFileSync(join(dir, "domain.xml"), xml, { mode: 0o600 });
    // define replaces the persistent config of the domain with this UUID: only the one named.
    await virshOk(o.uri, ["define", join(dir, "domain.xml")], { timeoutMs: 30_000, what: `libvirt define of "${o.domain}"` });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  res.applied = true;
  return res;
}
