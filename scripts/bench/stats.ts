// Percentiles for the benchmark scripts (nearest-rank): one implementation, shared with `hotmount bench`.
export { percentile, summary } from "../../src/bench/stats.ts";

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
