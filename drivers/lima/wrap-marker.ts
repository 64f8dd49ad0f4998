// The two small files that tie a hotmount instance dir to a Lima instance: lima.json (which
// Lima instance it stands for) and qemu-wrap.json (what the wrapper injected into which QEMU
// process). A marker counts only while its pid is the Lima instance's live VM pid: a marker
// left by an earlier run says nothing about a QEMU started without the wrapper.
import { readFileSync } from "node:fs";
import { writeJsonAtomic } from "../../src/core/instance-config.ts";
import type { MemoryPlan } from "../qemu/argv-rewrite.ts";
import type { LimaInstance } from "./lima-instance.ts";
import { limaLinkPath, wrapMarkerPath } from "../../src/core/paths.ts";

export interface LimaLink {
  limaDir: string;
  limaName: string;
  /** The VM process the hotmount journal belongs to: hot mounts do not outlive it. */
  vmPid?: number | null;
}

export interface WrapMarker {
  version: 1;
  /** The process Lima started: the wrapper execs QEMU in it, so it is QEMU's pid. */
  pid: number;
  limaDir: string;
  limaName: string;
  qmpSocket: string;
  slots: number;
  ninePSlots: number;
  memory: MemoryPlan;
  memoryMiB: number;
  cpus: number;
  accel: string | null;
  wrappedAt: string;
  /** Set when the wrapper had to pass Lima's command line through unchanged. */
  conflict?: { message: string; hint: string };
  argv: string[];
}

function readJson<T>(path: string): T | null {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as T;
  } catch {
    return null;
  }
}

export const readLimaLink = (hmName: string) => readJson<LimaLink>(limaLinkPath(hmName));

export function writeLimaLink(hmName: string, link: LimaLink): void {
  writeJsonAtomic(limaLinkPath(hmName), link);
}

export const readWrapMarker = (hmName: string) => readJson<WrapMarker>(wrapMarkerPath(hmName));

export function writeWrapMarker(hmName: string, m: WrapMarker): void {
  writeJsonAtomic(wrapMarkerPath(hmName), m);
}

/** The marker of the QEMU that runs this Lima instance now, or null (not started through the wrapper). */
export function liveWrap(inst: LimaInstance): WrapMarker | null {
  const m = readWrapMarker(inst.hmName);
  return m && inst.vmPid !== null && m.pid === inst.vmPid && m.limaDir === inst.dir ? m : null;
}

/** When the wrapper runs QEMU as a child instead of exec'ing it, the marker must name the child's pid. */
export function recordWrappedPid(hmName: string, pid: number): void {
  const m = readWrapMarker(hmName);
  if (m) writeWrapMarker(hmName, { ...m, pid });
}
