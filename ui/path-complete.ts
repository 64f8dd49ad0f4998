// Tab completion of a host directory path, as a shell does it: complete a unique match, else
// extend to the longest common prefix and list the candidates. Only directories are offered,
// because only a directory can be mounted.
import { readdir, stat } from "node:fs/promises";
import { isAbsolute, join } from "node:path";

export interface DirEntry {
  name: string;
  dir: boolean;
}

export type ReadDir = (absDir: string) => Promise<DirEntry[]>;

export interface Completion {
  value: string;
  /** Names (with a trailing "/") to show when the input is ambiguous. */
  candidates: string[];
}

/** Absolute form of a typed host path: ~ is the home directory, relative is from cwd. */
export function expandPath(input: string, home: string, cwd: string): string {
  if (input === "~") return home;
  if (input.startsWith("~/")) return join(home, input.slice(2));
  if (isAbsolute(input)) return input;
  return join(cwd, input);
}

/** Splits "~/src/pro" into the directory part "~/src/" and the prefix "pro". */
export function splitInput(input: string): { dirPart: string; prefix: string } {
  if (input === "~") return { dirPart: "~/", prefix: "" };
  const slash = input.lastIndexOf("/");
  return slash < 0 ? { dirPart: "", prefix: input } : { dirPart: input.slice(0, slash + 1), prefix: input.slice(slash + 1) };
}

function commonPrefix(names: string[]): string {
  if (names.length === 0) return "";
  let p = names[0]!;
  for (const n of names) while (!n.startsWith(p)) p = p.slice(0, -1);
  return p;
}

/** The completion of `input` given the entries of its directory. */
export function completeFrom(input: string, entries: DirEntry[]): Completion {
  const { dirPart, prefix } = splitInput(input);
  // Hidden directories only when asked for, as shells do.
  const matches = entries
    .filter((e) => e.dir && e.name.startsWith(prefix) && (prefix.startsWith(".") || !e.name.startsWith(".")))
    .map((e) => e.name)
    .sort();
  if (matches.length === 0) return { value: input, candidates: [] };
  if (matches.length === 1) return { value: dirPart + matches[0]! + "/", candidates: [] };
  const common = commonPrefix(matches);
  return { value: dirPart + common, candidates: matches.map((m) => m + "/") };
}

export async function completePath(input: string, readDir: ReadDir, home: string, cwd: string): Promise<Completion> {
  const { dirPart } = splitInput(input);
  const absDir = expandPath(dirPart === "" ? "." : dirPart, home, cwd);
  try {
    const entries = await readDir(absDir);
    const base = input === "~" ? "~/" : input;
    return completeFrom(base, entries);
  } catch {
    // An unreadable or missing directory simply has nothing to offer.
    return { value: input, candidates: [] };
  }
}

/** Reads a real directory; symlinks count as directories when they point at one. */
export const nodeReadDir: ReadDir = async (absDir) => {
  const ents = await readdir(absDir, { withFileTypes: true });
  return Promise.all(
    ents.map(async (e) => {
      if (e.isSymbolicLink()) {
        const s = await stat(join(absDir, e.name)).catch(() => null);
        return { name: e.name, dir: s?.isDirectory() ?? false };
      }
      return { name: e.name, dir: e.isDirectory() };
    }),
  );
};
