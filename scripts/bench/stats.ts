// Percentiles for the benchmark scripts (nearest-rank).
export function percentile(xs: number[], p: number): number {
  if (!xs.length) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export function summary(xs: number[]) {
  return { n: xs.length, p50: percentile(xs, 50), p95: percentile(xs, 95), min: Math.min(...xs), max: Math.max(...xs) };
}

/** Runs hotmount from source (or $HOTMOUNT_BIN) and returns wall milliseconds; throws on failure. */
export async function timed(args: string[], env: Record<string, string> = {}): Promise<number> {
  const bin = process.env.HOTMOUNT_BIN ? [process.env.HOTMOUNT_BIN] : ["bun", `${import.meta.dir}/../../src/main.ts`];
  const t0 = performance.now();
  const p = Bun.spawn([...bin, ...args], { env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  const code = await p.exited;
  const ms = performance.now() - t0;
  if (code !== 0) throw new Error(`hotmount ${args.join(" ")} failed (${code}): ${await new Response(p.stderr).text()}`);
  return ms;
}
