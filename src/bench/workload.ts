// The workload, as one POSIX sh script that runs the same way in the guest (busybox ash, as root)
// and on the host (dash/bash): large-file write and read with dd, N small files created, stat-ed,
// read and deleted, and `find` over a tree. It times itself, so no SSH round trip is counted;
// the loops use shell builtins only (printf, [ ), because a fork costs milliseconds under TCG.

export const METRICS = ["seqWrite", "seqRead", "create", "stat", "read", "delete", "find"] as const;
export type Metric = (typeof METRICS)[number];

/** Steps run in groups, so a runner can interleave sources group by group (less drift between them). */
export const GROUPS = { large: ["seqWrite", "seqRead"], small: ["create", "stat", "read", "delete"], find: ["find"] } as const satisfies Record<
  string,
  readonly Metric[]
>;
export type Group = keyof typeof GROUPS;
export const ALL_GROUPS = Object.keys(GROUPS) as Group[];

export interface WorkloadParams {
  /** Working folder (created, then removed): `big` and `small/` live here. */
  workDir: string;
  /** A prepared tree that `find` walks (shared by every source, never written). */
  treeDir: string;
  sizeMiB: number;
  files: number;
  /** `sync; echo 3 > /proc/sys/vm/drop_caches` before each step. */
  dropCaches: boolean;
  /**
   * How to read a nanosecond clock: busybox date has no %N, so the guest reads the kernel's
   * monotonic clock from /proc/timer_list (a builtin `read`, no fork); the host uses date.
   */
  clock: "timer_list" | "date";
  /** Which step groups to run (default all). */
  groups?: Group[];
}

export interface WorkloadResult {
  /** Nanoseconds per step. */
  ns: Record<Metric, number>;
  /** Entries `find` printed (the same tree must give the same count on every source). */
  findEntries: number;
}

const BODY = `
set -eu
w=$1 tree=$2 size=$3 n=$4 drop=$5 clock=$6 groups=" $7 "
if [ "$clock" = date ]; then now() { T=$(date +%s%N); }
else now() { { read -r _ ; read -r _ ; read -r _ _ T _ ; } < /proc/timer_list; }; fi
dc() { if [ "$drop" = 1 ]; then sync; echo 3 > /proc/sys/vm/drop_caches; fi; }
step() { now; echo "$1 $((T - t0))\${2:+ $2}"; }
rm -rf "$w"; mkdir -p "$w/small"
blk=$(printf '%4096s' '')
case $groups in *" large "*)
dc; now; t0=$T
dd if=/dev/zero of="$w/big" bs=1M count="$size" 2>/dev/null
step seqWrite
dc; now; t0=$T
dd if="$w/big" of=/dev/null bs=1M 2>/dev/null
step seqRead
rm -f "$w/big"
;; esac
case $groups in *" small "*)
dc; now; t0=$T; i=0
while [ $i -lt "$n" ]; do printf %s "$blk" > "$w/small/f$i"; i=$((i + 1)); done
step create
dc; now; t0=$T; i=0
while [ $i -lt "$n" ]; do [ -f "$w/small/f$i" ] || exit 3; i=$((i + 1)); done
step stat
dc; now; t0=$T
cat "$w"/small/* > /dev/null
step read
dc; now; t0=$T
rm -rf "$w/small"
step delete
;; esac
case $groups in *" find "*)
dc; now; t0=$T
c=$(find "$tree" | wc -l)
step find "$c"
;; esac
rm -rf "$w"
`;

/** argv for `sh -c`: the script plus its positional parameters (no value is ever spliced into it). */
export function workloadArgv(p: WorkloadParams): string[] {
  return [
    "sh",
    "-c",
    BODY,
    "hotmount-bench",
    p.workDir,
    p.treeDir,
    String(p.sizeMiB),
    String(p.files),
    p.dropCaches ? "1" : "0",
    p.clock,
    (p.groups ?? ALL_GROUPS).join(" "),
  ];
}

/** Reads the script's "metric nanoseconds [extra]" lines; a missing or garbled line is an error. */
export function parseWorkloadOutput(text: string): WorkloadResult;
export function parseWorkloadOutput(text: string, groups: Group[]): { ns: Partial<Record<Metric, number>>; findEntries: number };
export function parseWorkloadOutput(text: string, groups: Group[] = ALL_GROUPS): WorkloadResult {
  const ns: Partial<Record<Metric, number>> = {};
  let findEntries = Number.NaN;
  for (const line of text.split("\n")) {
    const [k, v, extra] = line.trim().split(/\s+/);
    if (!k || !(METRICS as readonly string[]).includes(k)) continue;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`bad timing line: ${line}`);
    ns[k as Metric] = n;
    if (k === "find") findEntries = Number(extra);
  }
  const missing = groups.flatMap((g) => GROUPS[g]).filter((m) => ns[m] === undefined);
  if (missing.length) throw new Error(`the workload did not report ${missing.join(", ")}; it printed:\n${text.slice(-400)}`);
  return { ns: ns as Record<Metric, number>, findEntries };
}
