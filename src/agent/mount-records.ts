// The mount records of one instance, in memory and in the journal, and the one way a record
// changes: set its state (and error), journal it, tell the hooks (events, grant timers). Every
// path of the mount service goes through `transition`, so none can change a mount unseen.
import type { Mount } from "./api.ts";
import { loadJournal, saveJournal, type MountRecord } from "./journal.ts";
import type { MountChange, MountHooks } from "./mount-hooks.ts";

export interface Transition {
  /** What the hooks are told; none: journaled only. */
  change?: MountChange;
  /** The record's error: set, or cleared with null; absent: left as it is. */
  error?: MountRecord["error"] | null;
  /** Why it failed, for the hooks (the requester's error). */
  cause?: unknown;
  /** What happened, in words (a restore says what it recovered from). */
  note?: string;
}

export class MountRecords {
  private readonly map = new Map<string, MountRecord>();

  constructor(
    private readonly journalPath: string,
    private readonly hooks: MountHooks | null,
  ) {
    for (const r of loadJournal(journalPath)) this.map.set(r.id, r);
  }

  all(): MountRecord[] {
    return [...this.map.values()];
  }

  get(id: string): MountRecord | undefined {
    return this.map.get(id);
  }

  byMountPoint(mountPoint: string): MountRecord | undefined {
    return this.all().find((r) => r.mountPoint === mountPoint);
  }

  /** Journals the records as they are now (a field changed that no hook cares about). */
  save(): void {
    saveJournal(this.journalPath, this.all());
  }

  /** Adds a record, journaled; the hooks are told `change` if given. */
  add(rec: MountRecord, change?: MountChange): void {
    this.map.set(rec.id, rec);
    this.save();
    if (change) this.hooks?.changed(change, rec);
  }

  /** Drops a record, journaled; told as removed unless `quiet`. */
  drop(rec: MountRecord, quiet = false): void {
    this.map.delete(rec.id);
    this.save();
    if (!quiet) this.hooks?.changed("removed", rec);
  }

  /** Moves `rec` to `state` (the same one for a field change), journals it, tells the hooks. */
  transition(rec: MountRecord, state: Mount["state"], t: Transition = {}): void {
    rec.state = state;
    if (t.error === null) delete rec.error;
    else if (t.error) rec.error = t.error;
    this.save();
    if (t.change) this.hooks?.changed(t.change, rec, t.cause, t.note);
  }

  /** Tells the hooks about a record that is no longer kept (a rolled-back add). */
  tell(change: MountChange, rec: MountRecord, cause?: unknown): void {
    this.hooks?.changed(change, rec, cause);
  }
}
