// `hotmount version [--json]`. Cheap on purpose: it loads no agent, client or UI code, so a
// script can call it to probe which hotmount it has, and what state directory it will use.
import type { Command } from "commander";
import { buildInfo, type BuildInfo } from "../../core/build-info.ts";
import { cacheHome, hotmountHome } from "../../core/paths.ts";

/** The `version --json` document; part of the embedding contract (docs/embedding.md). */
export interface VersionJson extends BuildInfo {
  /** The state root this process resolved (HOTMOUNT_HOME or ~/.hotmount). An embedder can check
   *  that its environment reached the binary; the build tests use it to prove a `.env` in the
   *  working directory is ignored. */
  home: string;
  /** The build cache root (HOTMOUNT_CACHE or $XDG_CACHE_HOME/hotmount). */
  cache: string;
}

export function versionJson(): VersionJson {
  return { ...buildInfo(), home: hotmountHome(), cache: cacheHome() };
}

export function versionLine(v: BuildInfo = buildInfo()): string {
  const built = v.compiled ? "" : " (from source)";
  return `hotmount ${v.version} (commit ${v.commit}, bun ${v.bun}, ${v.target})${built}`;
}

export function register(program: Command): void {
  program
    .command("version")
    .description("print the version, git commit, Bun version and target")
    .option("--json", "print a JSON object (stable; see docs/embedding.md)")
    .action((opts: { json?: boolean }) => {
      const out = opts.json ? JSON.stringify(versionJson(), null, 2) : versionLine();
      process.stdout.write(out + "\n");
    });
}
