// `hotmount bench INSTANCE`: the same workload on the host folder itself and, in the running VM,
// through a static virtiofs share of it (if the VM has one), a hot-plugged virtiofs, 9p and
// reverse-sshfs mount of it, the sources taking turns step group by step group so that drift on a
// shared host hits every source alike; then hot-plug add/remove latency through the agent API.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, release } from "node:os";
import { join } from "node:path";
import type { Transport } from "../agent/api.ts";
import { AgentClient } from "../client/agent-client.ts";
import { HotmountError } from "../core/errors.ts";
import { readInstanceConfig } from "../core/instance-config.ts";
import { instancePaths } from "../core/paths.ts";
import { resolveHostPath } from "../core/validate.ts";
import { GuestSsh } from "../guest-exec/ssh-client.ts";
import { cmdlineOf, readPidFile } from "../util/process.ts";
import { type BenchReport, computeRatios, type LatencyResult, medianNs, type Samples, type SourceName, type SourceResult } from "./report.ts";
import { summary } from "./stats.ts";
import { parseWorkloadOutput, ALL_GROUPS, type Group, METRICS, type Metric, type WorkloadParams, workloadArgv } from "./workload.ts";

export interface BenchOptions {
  instance: string;
  dir?: string;
  sizeMiB: number;
  files: number;
  /** Runs for the host and both virtiofs shares: their ratio is the acceptance figure. */
  reps: number;
  /** Runs for 9p and reverse-sshfs (slow under TCG: a run of reverse-sshfs takes minutes). */
  otherReps: number;
  cycles: number;
  sources: SourceName[];
  dropHostCaches: boolean;
  command: string;
  log: (line: string) => void;
}

const GUEST_BASE = "/mnt/hotmount-bench";
const FILE_BYTES = 4096;
const TREE = { dirs: 20, subdirs: 10, files: 10 };
const RUN_TIMEOUT_MS = 20 * 60_000;
/**
 * The large-file steps take seconds, and one sample swings by a third on a shared host: they run
 * this many times per repetition for the host and both virtiofs shares (the acceptance ratio).
 */
const LARGE_PER_REP = 3;
const HOT: Record<string, Transport> = { virtiofs: "virtiofs", "9p": "9p", "reverse-sshfs": "reverse-sshfs" };

/** find prints the root, every folder and every file. */
export const treeEntries = () => 1 + TREE.dirs * (1 + TREE.subdirs * (1 + TREE.files));

function makeTree(root: string): void {
  for (let d = 0; d < TREE.dirs; d++) {
    for (let s = 0; s < TREE.subdirs; s++) {
      const dir = join(root, `d${d}`, `s${s}`);
      mkdirSync(dir, { recursive: true });
      for (let f = 0; f < TREE.files; f++) writeFileSync(join(dir, `f${f}`), "x");
    }
  }
}

function swap<T>(xs: T[], a: T, b: T): void {
  const i = xs.indexOf(a);
  const j = xs.indexOf(b);
  if (i >= 0 && j >= 0) [xs[i], xs[j]] = [xs[j]!, xs[i]!];
}

type StepResult = { ns: Partial<Record<Metric, number>>; findEntries: number };

async function onHost(p: WorkloadParams & { groups: Group[] }): Promise<StepResult> {
  const argv = workloadArgv(p);
  const proc = Bun.spawn(argv, { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0)
    throw new HotmountError("INTERNAL", `the workload failed on the host (exit ${code}): ${err.trim()}`, { hint: "Check free space in the benchmark folder." });
  return parseWorkloadOutput(out, p.groups);
}

async function inGuest(ssh: GuestSsh, p: WorkloadParams & { groups: Group[] }): Promise<StepResult> {
  const r = await ssh.exec(workloadArgv(p), { timeoutMs: RUN_TIMEOUT_MS });
  if (r.code !== 0)
    throw new HotmountError("GUEST_COMMAND_FAILED", `the workload failed in the guest (exit ${r.code}) in ${p.workDir}: ${r.stderr.trim().slice(-300)}`, {
      hint: "See the mount with `hotmount mount list`; the guest needs free RAM for the page cache.",
    });
  return parseWorkloadOutput(r.stdout, p.groups);
}

/** The virtiofs settings the agent runs with: its own environment decides (see virtiofs-tuning.ts). */
async function agentTuning(instance: string): Promise<Record<string, unknown>> {
  const { virtiofsTuning } = await import("../../drivers/index.ts");
  const { ninePMountOptions } = await import("../core/mount-options.ts");
  const pid = readPidFile(instancePaths(instance).agentPid);
  let env: Record<string, string> = {};
  try {
    env = Object.fromEntries(
      readFileSync(`/proc/${pid}/environ`, "utf8")
        .split("\0")
        .filter(Boolean)
        .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
    );
  } catch {}
  return { virtiofs: virtiofsTuning(env), ninePMount: ninePMountOptions(true) };
}

async function guestMountInfo(ssh: GuestSsh, mp: string): Promise<{ procMounts?: string; readAheadKb?: number }> {
  const r = await ssh.exec(
    [
      "sh",
      "-c",
      'grep " $1 " /proc/mounts; cat "/sys/class/bdi/$(awk -v m="$1" \'$5 == m { print $3 }\' /proc/self/mountinfo)/read_ahead_kb" 2>/dev/null',
      "x",
      mp,
    ],
    { timeoutMs: 10_000 },
  );
  const [line, ra] = r.stdout.trim().split("\n");
  return { procMounts: line || undefined, readAheadKb: ra && /^\d+$/.test(ra) ? Number(ra) : undefined };
}

export async function runBench(o: BenchOptions): Promise<BenchReport> {
  const cfg = readInstanceConfig(o.instance);
  const client = new AgentClient(o.instance);
  const info = await client.info();
  if (info.state !== "running" || !info.ssh)
    throw new HotmountError("INSTANCE_NOT_RUNNING", `instance "${o.instance}" is not running`, { hint: `Start it: hotmount vm start ${o.instance}` });
  const staticShare = cfg.staticMounts.find(
    (s) => s.writable && (!o.dir || resolveHostPath(o.dir) === s.hostPath || resolveHostPath(o.dir).startsWith(s.hostPath + "/")),
  );
  const dir = o.dir ? resolveHostPath(o.dir) : staticShare?.hostPath;
  if (!dir)
    throw new HotmountError("USAGE", "no folder to benchmark", {
      hint: `Pass --dir HOSTDIR (writable; the benchmark makes and removes a subfolder in it), or start the VM with --mount HOSTDIR:/mnt/x to compare with a static share.`,
    });

  const skipped: BenchReport["skipped"] = [];
  const wanted = new Set(o.sources);
  if (wanted.has("virtiofs-static") && !staticShare) {
    wanted.delete("virtiofs-static");
    skipped.push({ name: "virtiofs-static", why: `the VM has no writable static share of ${dir} (start it with --mount ${dir}:/mnt/static)` });
  }
  for (const t of info.transports) {
    if (!t.available && wanted.has(t.type as SourceName)) {
      wanted.delete(t.type as SourceName);
      skipped.push({ name: t.type as SourceName, why: t.reason ?? "not available on this VM" });
    }
  }
  const order = o.sources.filter((s) => wanted.has(s));

  const root = join(dir, `.hotmount-bench-${process.pid}`);
  const rel = root.slice(dir.length);
  rmSync(root, { recursive: true, force: true });
  makeTree(join(root, "tree"));
  const where = new Map<SourceName, string>();
  if (wanted.has("host")) where.set("host", root);
  if (staticShare && wanted.has("virtiofs-static")) where.set("virtiofs-static", staticShare.mountPoint + dir.slice(staticShare.hostPath.length) + rel);

  const ssh = await GuestSsh.connect(info.ssh);
  const added: string[] = [];
  const sources: SourceResult[] = [];
  const latency: LatencyResult[] = [];
  try {
    for (const s of order) {
      const type = HOT[s];
      if (!type) continue;
      o.log(`mounting ${dir} over ${type}`);
      const m = await client.add({ hostPath: dir, mountPoint: `${GUEST_BASE}/${type}`, type, writable: true, watch: false });
      added.push(m.id);
      where.set(s, m.mountPoint + rel);
    }
    const samples = new Map<SourceName, Samples>(order.map((s) => [s, Object.fromEntries(METRICS.map((m) => [m, []])) as unknown as Samples]));
    const slow = (s: SourceName) => s === "9p" || s === "reverse-sshfs";
    const repsOf = (s: SourceName) => (slow(s) ? o.otherReps : o.reps);
    const timesOf = (s: SourceName, g: Group) => (g === "large" && !slow(s) ? LARGE_PER_REP : 1);
    const rounds = Math.max(...order.map(repsOf));
    let turn = 0;
    for (let rep = 1; rep <= rounds; rep++) {
      const round = order.filter((x) => rep <= repsOf(x));
      // Sources take turns group by group, so the two virtiofs shares of a pair run seconds
      // apart; and static and hot swap places every other turn (ABBA): drift favours neither.
      for (const g of ALL_GROUPS)
        for (let t = 0; t < LARGE_PER_REP; t++) {
          const seq = round.filter((s) => t < timesOf(s, g));
          if (!seq.length) continue;
          if (turn++ % 2 === 1) swap(seq, "virtiofs-static", "virtiofs");
          for (const s of seq) {
            const base = where.get(s)!;
            const p = {
              workDir: `${base}/${s}`,
              treeDir: `${base}/tree`,
              sizeMiB: o.sizeMiB,
              files: o.files,
              dropCaches: s === "host" ? o.dropHostCaches : true,
              clock: s === "host" ? "date" : "timer_list",
              groups: [g],
            } satisfies WorkloadParams;
            o.log(`run ${rep}/${repsOf(s)}: ${g} on ${s}`);
            const r = s === "host" ? await onHost(p) : await inGuest(ssh, p);
            if (g === "find" && r.findEntries !== treeEntries())
              throw new HotmountError("INTERNAL", `find saw ${r.findEntries} entries over ${s}, expected ${treeEntries()}`, {
                hint: "The share does not show the host tree as it is.",
              });
            for (const [m, v] of Object.entries(r.ns)) samples.get(s)![m as Metric].push(v);
          }
        }
    }
    for (const s of order) {
      const gm = s === "host" ? {} : await guestMountInfo(ssh, s === "virtiofs-static" ? staticShare!.mountPoint : `${GUEST_BASE}/${HOT[s]}`);
      sources.push({ name: s, path: where.get(s)!, ...gm, samples: samples.get(s)!, medianNs: medianNs(samples.get(s)!) });
    }
    while (added.length) await client.remove(added.pop()!);

    for (const s of order) {
      const type = HOT[s];
      if (!type || o.cycles < 1) continue;
      o.log(`hot-plug latency: ${o.cycles} add/remove cycles over ${type}`);
      const addMs: number[] = [];
      const removeMs: number[] = [];
      for (let i = 0; i < o.cycles; i++) {
        let t0 = performance.now();
        const m = await client.add({ hostPath: dir, mountPoint: `${GUEST_BASE}/latency`, type, writable: false, watch: false });
        addMs.push(performance.now() - t0);
        added.push(m.id); // so that a failed remove is retried with --force below
        t0 = performance.now();
        await client.remove(m.id);
        removeMs.push(performance.now() - t0);
        added.pop();
      }
      latency.push({
        type: type as LatencyResult["type"],
        addMs: summary(addMs),
        removeMs: summary(removeMs),
        samples: { addMs: addMs.map(Math.round), removeMs: removeMs.map(Math.round) },
      });
    }
  } finally {
    for (const id of added) await client.remove(id, true).catch(() => {});
    ssh.close();
    rmSync(root, { recursive: true, force: true });
  }

  const { qemuVersion, qemuBinary, findVirtiofsd } = await import("../../drivers/index.ts");
  let qemu = "-";
  try {
    qemu = cfg.driver === "qemu" ? qemuVersion(qemuBinary()) : "-";
  } catch {}
  const qemuPid = readPidFile(instancePaths(o.instance).qemuPid);
  const staticQueue = qemuPid ? /vhost-user-fs-pci,[^ ]*queue-size=(\d+)/.exec(cmdlineOf(qemuPid).join(" "))?.[1] : undefined;
  return {
    version: 1,
    date: new Date().toISOString(),
    accel: info.accel ?? "?",
    command: o.command,
    host: { kernel: release(), cpus: cpus().length, cpuModel: cpus()[0]?.model ?? "?", qemu, virtiofsd: findVirtiofsd()?.version ?? "-" },
    instance: { name: o.instance, memoryMiB: cfg.memoryMiB, cpus: cfg.cpus },
    params: { sizeMiB: o.sizeMiB, files: o.files, fileBytes: FILE_BYTES, treeEntries: treeEntries(), reps: o.reps, otherReps: o.otherReps, cycles: o.cycles },
    caches: {
      guest: "dropped before every step (sync; echo 3 > /proc/sys/vm/drop_caches)",
      host: o.dropHostCaches
        ? "dropped before every step of the host run (echo 3 > /proc/sys/vm/drop_caches, machine-wide); the guests' files stay in the host page cache"
        : "kept: the host page cache holds the files every source reads (dropping it is machine-wide and would measure this machine's disk, not the transport)",
    },
    tuning: { ...(await agentTuning(o.instance)), staticQueueSize: staticQueue ? Number(staticQueue) : null },
    sources,
    skipped,
    latency,
    ratios: computeRatios(sources),
    notes: [
      "writes end when dd closes the file: every transport here writes through to the host page cache by then (no fsync, so the disk is not measured)",
      "hot-plug latency is the agent API call (device, backend and guest mount), without the CLI's own start-up",
      info.accel === "tcg"
        ? "TCG: the guest CPU is emulated, so every page the guest kernel copies is slow; under KVM the ranking between transports differs"
        : "KVM",
    ],
  };
}
