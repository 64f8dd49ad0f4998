// Loaded before every test file (bunfig.toml). Tests get their own short HOTMOUNT_HOME (unix
// socket paths are limited to 107 bytes) and share the build cache, so the demo guest is built
// once per machine. After each file, nothing the file started may still run.
import { afterAll, setDefaultTimeout } from "bun:test";
import { mkdtempSync } from "node:fs";
import { ourProcesses } from "./helpers/leaks.ts";

if (!process.env.HOTMOUNT_TEST_HOME) {
  process.env.HOTMOUNT_TEST_HOME = mkdtempSync("/tmp/hmt-");
}
process.env.HOTMOUNT_HOME = process.env.HOTMOUNT_TEST_HOME;
// Guests run under TCG here: a VM test takes seconds to minutes, never 5 s.
setDefaultTimeout(300_000);

afterAll(async () => {
  // Give detached children a moment to notice their parent is gone.
  for (let i = 0; i < 30 && ourProcesses().length; i++) await Bun.sleep(100);
  const left = ourProcesses();
  if (left.length) {
    for (const p of left)
      try {
        process.kill(p.pid, "SIGKILL");
      } catch {}
    throw new Error(`the suite leaked ${left.length} process(es):\n${left.map((p) => `${p.pid} ${p.argv.slice(0, 300)}`).join("\n")}`);
  }
}, 30_000);
