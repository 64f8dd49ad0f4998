// The agent's mount registry on disk, rewritten atomically after every change so that a crash
// at any step leaves a journal that says what was under way.
import { readFileSync } from "node:fs";
import { z } from "zod";
import { buildInfo } from "../core/build-info.ts";
import { writeJsonAtomic } from "../core/instance-config.ts";
import { checkJournalVersion, JOURNAL_VERSION } from "../core/versions.ts";
import { PluggedDevice } from "../core/model.ts";
import { Mount } from "./api.ts";

export const MountRecord = Mount.extend({
  device: PluggedDevice.optional(),
  /** We made the guest folder, so removal takes it away again. */
  createdDir: z.boolean().default(false),
  /** The guest's boot id when it was last mounted: another one means the guest rebooted since. */
  bootId: z.string().optional(),
  /** "dev:ino" of the host folder when mounted: another one means it was replaced (host-folder.ts). */
  hostId: z.string().optional(),
});
export type MountRecord = z.infer<typeof MountRecord>;

// Versions above JOURNAL_VERSION are refused before this (checkJournalVersion); older ones are migrated here.
const JournalFile = z.object({ version: z.number().int().min(1).max(JOURNAL_VERSION), mounts: z.array(MountRecord) });

export function loadJournal(path: string): MountRecord[] {
  let raw: string;
  try {
    raw = readFileSync(path, "utf8");
  } catch {
    return [];
  }
  const data = JSON.parse(raw) as { version?: unknown };
  // A newer hotmount's journal is refused, not read as empty (the agent would then overwrite it).
  checkJournalVersion(path, data?.version, buildInfo().version);
  const r = JournalFile.safeParse(data);
  return r.success ? r.data.mounts : [];
}

export function saveJournal(path: string, mounts: MountRecord[]): void {
  writeJsonAtomic(path, { version: JOURNAL_VERSION, mounts });
}

/** The public view of a record (no internal handles). */
export function toMount(r: MountRecord): Mount {
  const { device: _d, createdDir: _c, bootId: _b, hostId: _h, ...m } = r;
  return m;
}
