// Runs the real TUI (runTui) against the FakeHotmountClient, for the tmux test and for trying
// the screens by hand: bun test/ui/demo.tsx
import { runTui } from "../../ui/index.tsx";
import { sampleClient } from "./fake-client.ts";

const delayMs = Number(process.env.HOTMOUNT_DEMO_DELAY_MS ?? 800);
await runTui(sampleClient({ delayMs, readyAfterMs: delayMs * 2 }), { pollMs: 500 });
console.log("demo: TUI exited");
