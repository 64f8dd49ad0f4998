// What a CLI does with an agent or a journal from another hotmount version (src/core/versions.ts),
// without VMs: real AgentClient calls against stand-in agents on unix sockets (the real
// serveAgent, an agent from before versioning that sends no header, and a newer one), and
// journals of each format version.
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadJournal, saveJournal } from "../../src/agent/journal.ts";
import type { AgentHandlers } from "../../src/agent/http.ts";
import { serveAgent } from "../../src/agent/server.ts";
import { buildInfo } from "../../src/core/build-info.ts";
import { ERROR_CODES, HotmountError } from "../../src/core/errors.ts";
import { instancePaths } from "../../src/core/paths.ts";
import { AGENT_VERSION_HEADER, agentApiDecision, agentApiOf, API_HEADER, API_VERSION, JOURNAL_VERSION, OLDEST_AGENT_API } from "../../src/core/versions.ts";
import { AgentClient } from "../../src/client/agent-client.ts";

const servers: { stop(force?: boolean): unknown }[] = [];
afterAll(() => {
  for (const s of servers) s.stop(true);
});

function instance(name: string): string {
  mkdirSync(instancePaths(name).dir, { recursive: true });
  return instancePaths(name).agentSock;
}

/** A stand-in agent that answers GET /v1/mounts with no mounts, with these headers. */
function fakeAgent(name: string, headers: Record<string, string>) {
  const s = Bun.serve({
    unix: instance(name),
    fetch: () => Response.json({ mounts: [] }, { headers }),
  });
  servers.push(s);
}

async function codeOf(p: Promise<unknown>): Promise<HotmountError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof HotmountError) return e;
    throw e;
  }
  throw new Error("expected a HotmountError");
}

test("the decision table: same and older (down to the oldest kept) work, newer is refused", () => {
  expect(agentApiDecision(API_VERSION)).toBe("use");
  expect(agentApiDecision(API_VERSION + 1)).toBe("too-new");
  expect(agentApiDecision(OLDEST_AGENT_API)).toBe("use");
  // A future CLI that speaks API 3 and keeps 2: an API 2 agent works, an API 1 agent is refused.
  expect(agentApiDecision(2, 3, 2)).toBe("use");
  expect(agentApiDecision(1, 3, 2)).toBe("too-old");
  // No header: an agent from before versioning (0.1.0), which speaks API 1.
  expect(agentApiOf(null)).toBe(1);
  expect(agentApiOf("2")).toBe(2);
});

test("the real agent server sends its API version and binary version on every response", async () => {
  const name = "ver-real";
  const h = {
    info: async () => {
      throw new HotmountError("INSTANCE_NOT_RUNNING", "no VM here");
    },
    inventory: async () => ({ devices: [], backends: [] }),
    mounts: { list: () => [] },
    stopVm: async () => {},
  } as unknown as AgentHandlers;
  servers.push(serveAgent(instance(name), h));
  const ok = await fetch("http://hotmount/v1/nothing-here", { unix: instancePaths(name).agentSock } as RequestInit);
  expect(ok.headers.get(API_HEADER)).toBe(String(API_VERSION));
  expect(ok.headers.get(AGENT_VERSION_HEADER)).toBe(buildInfo().version);
  // An error response carries them too, and the client still sees the agent's own error.
  const e = await codeOf(new AgentClient(name).info());
  expect(e.code).toBe("INSTANCE_NOT_RUNNING");
});

test("newer CLI + agent from before versioning (no header): works, old API kept", async () => {
  fakeAgent("ver-old", { "content-type": "application/json" });
  expect(await new AgentClient("ver-old").mounts()).toEqual([]);
});

test("same CLI and agent: works", async () => {
  fakeAgent("ver-same", { [API_HEADER]: String(API_VERSION), [AGENT_VERSION_HEADER]: buildInfo().version });
  expect(await new AgentClient("ver-same").mounts()).toEqual([]);
});

test("older CLI + newer agent: refused with VERSION_MISMATCH (exit 19), naming both versions", async () => {
  fakeAgent("ver-new", { [API_HEADER]: String(API_VERSION + 1), [AGENT_VERSION_HEADER]: "9.0.0" });
  const e = await codeOf(new AgentClient("ver-new").mounts());
  expect(e.code).toBe("VERSION_MISMATCH");
  expect(e.exitCode).toBe(19);
  expect(ERROR_CODES.VERSION_MISMATCH[0]).toBe(19);
  expect(e.message).toContain("9.0.0");
  expect(e.message).toContain(buildInfo().version);
  expect(e.hint).toContain("9.0.0");
  expect(e.details).toMatchObject({ side: "agent", agentApi: API_VERSION + 1, cliApi: API_VERSION });
});

test("journal: the current format loads, a newer one is refused (and left as it is), garbage reads as empty", () => {
  const dir = mkdtempSync(join(process.env.TMPDIR ?? "/tmp", "hm-journal-"));
  try {
    const path = join(dir, "mounts.json");
    saveJournal(path, []);
    expect(JSON.parse(readFileSync(path, "utf8")).version).toBe(JOURNAL_VERSION);
    expect(loadJournal(path)).toEqual([]);
    const newer = JSON.stringify({ version: JOURNAL_VERSION + 1, mounts: [{ something: "new" }] });
    writeFileSync(path, newer);
    const e = (() => {
      try {
        loadJournal(path);
      } catch (err) {
        return err as HotmountError;
      }
      throw new Error("expected a refusal");
    })();
    expect(e.code).toBe("VERSION_MISMATCH");
    expect(e.exitCode).toBe(19);
    expect(e.details).toMatchObject({ side: "journal", journalVersion: JOURNAL_VERSION + 1 });
    expect(readFileSync(path, "utf8")).toBe(newer);
    writeFileSync(path, JSON.stringify({ version: 1, mounts: "not a list" }));
    expect(loadJournal(path)).toEqual([]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the CLI exits 19 with the error in --json against a newer agent", async () => {
  const name = "ver-new";
  // Present, so the client does not say "no instance"; never booted (the stand-in agent is all there is).
  const ssh = { host: "127.0.0.1", port: 22, user: "root", identityFile: "/nonexistent" };
  writeFileSync(instancePaths(name).config, JSON.stringify({ name, memoryMiB: 512, cpus: 1, slots: 0, kernel: "/nonexistent", ssh }));
  // Async: the stand-in agent answers from this process.
  const p = Bun.spawn(["bun", join(import.meta.dir, "../../src/main.ts"), "mount", "list", name, "--json"], {
    env: { ...process.env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  expect(`${out}${err}`).toContain("VERSION_MISMATCH");
  expect(code).toBe(19);
  expect(JSON.parse(out).error.code).toBe("VERSION_MISMATCH");
});
