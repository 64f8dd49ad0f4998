// Waiting for a condition instead of sleeping a fixed time: polls `cond` every 10 ms and fails
// naming what it waited for once `timeoutMs` has passed, so a slow machine waits longer and a
// broken one fails rather than asserting too early.
export async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(10);
  }
}
