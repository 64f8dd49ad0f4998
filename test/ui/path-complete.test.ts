import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { completeFrom, completePath, expandPath, nodeReadDir, splitInput } from "../../ui/path-complete.ts";
import { fakeReadDir } from "./helpers.tsx";

const dir = (name: string) => ({ name, dir: true });
const file = (name: string) => ({ name, dir: false });

test("expandPath: ~, relative and absolute", () => {
  expect(expandPath("~", "/home/u", "/w")).toBe("/home/u");
  expect(expandPath("~/a", "/home/u", "/w")).toBe("/home/u/a");
  expect(expandPath("a/b", "/home/u", "/w")).toBe("/w/a/b");
  expect(expandPath("/x", "/home/u", "/w")).toBe("/x");
  expect(splitInput("~/src/pro")).toEqual({ dirPart: "~/src/", prefix: "pro" });
  expect(splitInput("pro")).toEqual({ dirPart: "", prefix: "pro" });
});

test("completeFrom: unique match completes with /, ambiguous extends and lists, files and hidden left out", () => {
  const entries = [dir("project"), dir("proto"), dir(".profile.d"), file("prompt.txt"), dir("src")];
  expect(completeFrom("~/s", entries)).toEqual({ value: "~/src/", candidates: [] });
  expect(completeFrom("~/pro", entries)).toEqual({ value: "~/pro", candidates: ["project/", "proto/"] });
  expect(completeFrom("~/proj", entries)).toEqual({ value: "~/project/", candidates: [] });
  expect(completeFrom("~/.pro", entries)).toEqual({ value: "~/.profile.d/", candidates: [] });
  expect(completeFrom("~/zzz", entries)).toEqual({ value: "~/zzz", candidates: [] });
});

test("completePath reads the right directory and survives a missing one", async () => {
  const readDir = fakeReadDir({ "/home/u": [dir("src")], "/w": [dir("data")], "/": [dir("srv"), dir("sys")] });
  expect(await completePath("~", readDir, "/home/u", "/w")).toEqual({ value: "~/src/", candidates: [] });
  expect(await completePath("d", readDir, "/home/u", "/w")).toEqual({ value: "data/", candidates: [] });
  expect(await completePath("/s", readDir, "/home/u", "/w")).toEqual({ value: "/s", candidates: ["srv/", "sys/"] });
  expect(await completePath("/nope/x", readDir, "/home/u", "/w")).toEqual({ value: "/nope/x", candidates: [] });
});

const tmp = mkdtempSync(join(tmpdir(), "hm-ui-complete-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

test("nodeReadDir on a real directory: symlinks to directories count as directories", async () => {
  mkdirSync(join(tmp, "alpha"));
  writeFileSync(join(tmp, "afile"), "x");
  symlinkSync(join(tmp, "alpha"), join(tmp, "alink"));
  symlinkSync(join(tmp, "missing"), join(tmp, "adangling"));
  const got = await completePath(tmp + "/a", nodeReadDir, "/", "/");
  expect(got).toEqual({ value: tmp + "/al", candidates: ["alink/", "alpha/"] });
});
