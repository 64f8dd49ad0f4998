// What a hotmount binary does when it meets state from another version of itself: an agent
// started by an older or newer binary (still running its VM), or a mount journal written by
// one. This file is the one place that decides; test/unit/versions.test.ts checks each case.
//
// The agent API carries a version: every agent response has the header `x-hotmount-api: N`
// (and `x-hotmount-version: <the agent binary's version>`). Agents from before versioning
// (hotmount 0.1.0 up to commit 1e17e85) send no header; they speak API 1, the one this file
// starts at. The journal file has carried `"version": 1` from the start.
//
//   CLI \ agent      older agent (API < this)                 same     newer agent (API > this)
//   newer CLI        works: the CLI keeps speaking every API   works    -
//                    from OLDEST_AGENT_API up (the agent is
//                    left running, its mounts untouched)
//   older CLI        -                                         works    refused: VERSION_MISMATCH (exit 19)
//
//   journal          older version: migrated when read (none yet: only version 1 exists)
//                    newer version: refused, VERSION_MISMATCH (exit 19); the agent does not
//                    start, so it never rewrites (and loses) a journal it cannot read
//
// An agent older than OLDEST_AGENT_API (none exists yet) would be refused the same way, with
// the hint to restart it with this binary (`vm start` replaces a running instance's agent, and
// the new agent takes the mounts back from the journal).
import { HotmountError } from "./errors.ts";

/** The agent API this binary speaks. Bump it when a route or a body changes incompatibly. */
export const API_VERSION = 1;
/** The oldest agent API this CLI still speaks. */
export const OLDEST_AGENT_API = 1;
/** The journal format this binary writes (and the newest it reads). */
export const JOURNAL_VERSION = 1;

export const API_HEADER = "x-hotmount-api";
export const AGENT_VERSION_HEADER = "x-hotmount-version";

/** The API an agent's response says it speaks; no header means an agent from before versioning (API 1). */
export function agentApiOf(header: string | null): number {
  if (header === null) return 1;
  const n = Number(header);
  return Number.isInteger(n) && n > 0 ? n : 1;
}

export type AgentApiDecision = "use" | "too-new" | "too-old";

export function agentApiDecision(agentApi: number, mine = API_VERSION, oldest = OLDEST_AGENT_API): AgentApiDecision {
  if (agentApi > mine) return "too-new";
  if (agentApi < oldest) return "too-old";
  return "use";
}

/** Throws VERSION_MISMATCH unless this CLI can talk to the agent that sent these headers. */
export function checkAgentApi(instance: string, headers: Headers, myVersion: string, mine = API_VERSION): void {
  const api = agentApiOf(headers.get(API_HEADER));
  const decision = agentApiDecision(api, mine);
  if (decision === "use") return;
  const agentVersion = headers.get(AGENT_VERSION_HEADER) ?? "0.1.0 or older";
  const details = { side: "agent", agentApi: api, agentVersion, cliApi: mine, cliVersion: myVersion };
  if (decision === "too-new") {
    throw new HotmountError(
      "VERSION_MISMATCH",
      `the agent of "${instance}" is hotmount ${agentVersion} (API ${api}); this hotmount ${myVersion} speaks API ${mine}`,
      { details, hint: `Use hotmount ${agentVersion} or newer for this instance (the running agent is left alone).` },
    );
  }
  throw new HotmountError(
    "VERSION_MISMATCH",
    `the agent of "${instance}" is hotmount ${agentVersion} (API ${api}), older than this hotmount ${myVersion} speaks`,
    {
      details,
      hint: `Restart its agent with this binary: hotmount vm start ${instance} (the mounts are kept: the new agent takes them back from the journal).`,
    },
  );
}

/** Throws VERSION_MISMATCH for a journal written by a newer hotmount; returns the version otherwise. */
export function checkJournalVersion(path: string, version: unknown, myVersion: string, mine = JOURNAL_VERSION): number {
  if (typeof version === "number" && Number.isInteger(version) && version > mine) {
    throw new HotmountError("VERSION_MISMATCH", `the mount journal ${path} is format ${version}; this hotmount ${myVersion} reads up to ${mine}`, {
      details: { side: "journal", journalVersion: version, cliJournalVersion: mine, cliVersion: myVersion },
      hint: "A newer hotmount wrote it: use that binary for this instance. The journal is left as it is.",
    });
  }
  return typeof version === "number" ? version : 0;
}
