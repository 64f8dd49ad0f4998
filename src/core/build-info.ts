// What this binary is: version, commit, Bun runtime and target. scripts/build.ts bakes the
// commit and target in with `define`; run from source, the commit reads "dev" and the target
// is the running host, so a bug report always says which of the two it came from.
import { version as packageVersion } from "../../package.json";

// Replaced by string literals at build time (scripts/build.ts, `define`). Only ever read
// through `typeof` guards: from source these identifiers do not exist at all.
declare const HOTMOUNT_BUILD_COMMIT: string;
declare const HOTMOUNT_BUILD_TARGET: string;

export interface BuildInfo {
  version: string;
  /** Short git commit the binary was built from ("-dirty" when the tree had changes), or "dev". */
  commit: string;
  /** The Bun runtime inside the binary (or running the source). */
  bun: string;
  /** `<os>-<arch>`, e.g. linux-x64, darwin-arm64. */
  target: string;
  /** True for a `bun build --compile` binary, false when run from source. */
  compiled: boolean;
}

export const BUILD_DEFINE_NAMES = {
  commit: "HOTMOUNT_BUILD_COMMIT",
  target: "HOTMOUNT_BUILD_TARGET",
} as const;

export function buildInfo(): BuildInfo {
  const compiled = typeof HOTMOUNT_BUILD_COMMIT === "string";
  return {
    version: packageVersion,
    commit: compiled ? HOTMOUNT_BUILD_COMMIT : "dev",
    bun: Bun.version,
    target: typeof HOTMOUNT_BUILD_TARGET === "string" ? HOTMOUNT_BUILD_TARGET : hostTarget(),
    compiled,
  };
}

/** The `<os>-<arch>` name of the machine this runs on, in Bun's compile-target spelling. */
export function hostTarget(): string {
  return `${process.platform}-${process.arch}`;
}
