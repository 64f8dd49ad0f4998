// Hostile input: a table of bad and strange host paths, guest paths, options, request
// bodies, methods and ids, each through the CLI and the raw API on the agent's socket. Every case
// either gets a clear error (its code, a one-line message, a hint) and changes nothing, or works:
// then the guest really has that host folder at that place, and it is removed again. Payloads try
// to touch a canary file on the host and in the guest; at the end neither exists.
//
// What cannot be tested, and why: a NUL byte cannot travel in argv (the OS ends the string
// there), so NUL goes through the API only; device tags are not user input at all (mount ids
// "hm" + 8 hex, static shares "hm-static<n>"): the API refuses a "tag" field and the CLI has no
// such option, both tested below.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ERROR_CODES, type ErrorCode } from "../../src/core/errors.ts";
import { instancePaths } from "../../src/core/paths.ts";
import { hm, hmOk, hotmountArgv } from "../helpers/cli.ts";
import { useVm } from "../helpers/vm.ts";
import { type Body, CASES, type MountCase, OPTION_CASES, RAW_CASES } from "./hostile-cases.ts";

const NAME = "hostile";
const vm = useVm(NAME, ["--memory", "384M"]);
const HOST_CANARY = "/tmp/hm-canary-host";
const GUEST_CANARY = "/tmp/hm-canary-guest";
const TYPES = ["virtiofs", "9p", "reverse-sshfs"] as const;
const FSTYPE: Record<string, string> = { virtiofs: "virtiofs", "9p": "9p", "reverse-sshfs": "fuse.sshfs" };
let R: string;
const at = (s: string) => s.replaceAll("@R", R).replaceAll("@HOME", process.env.HOTMOUNT_HOME!);

beforeAll(async () => {
  // Directly in /tmp: the "../../etc" case climbs exactly two levels from here to /etc.
  R = mkdtempSync("/tmp/hmt-hostile-");
  rmSync(HOST_CANARY, { force: true });
  await vm.run(["rm", "-f", GUEST_CANARY]);
  // Host folders the cases name; each working one holds a marker that says which folder it is.
  for (const c of CASES)
    for (const d of c.mkdirs ?? []) {
      mkdirSync(at(d), { recursive: true });
      writeFileSync(join(at(d), "marker"), `marker of ${at(d)}`);
    }
  mkdirSync(join(R, "plain"));
  writeFileSync(join(R, "plain", "marker"), `marker of ${join(R, "plain")}`);
  mkdirSync(join(R, "real-target"));
  writeFileSync(join(R, "real-target", "marker"), `marker of ${join(R, "real-target")}`);
  symlinkSync(join(R, "real-target"), join(R, "link-inside"));
  symlinkSync("/etc", join(R, "escape-link"));
  symlinkSync("/", join(R, "root-link"));
  symlinkSync("../../../../../../proc/self", join(R, "proc-link"));
  writeFileSync(join(R, "file.txt"), "a file");
  for (const n of ["nl\nx", "tab\tx", "esc\u001b[31mred", "c1\u009bx"]) mkdirSync(join(R, n));
  // A folder whose name is not UTF-8 (one 0xff byte).
  mkdirSync(Buffer.concat([Buffer.from(`${R}/bad-`), Buffer.from([0xff])]));
  // Guest-side traps: symlinks out of /mnt, a file, and something already mounted.
  await vm.sh(
    "mkdir -p /mnt/realdir && ln -sfn /etc /mnt/evil && ln -sfn /mnt/realdir /mnt/evil2 && echo f > /mnt/afile && mkdir -p /mnt/tmpfs && mount -t tmpfs none /mnt/tmpfs",
  );
});

afterAll(async () => {
  rmSync(R, { recursive: true, force: true });
  await vm.exec(["umount", "/mnt/tmpfs"]).catch(() => {});
});

async function api(method: string, path: string, body?: Body, headers: Record<string, string> = {}) {
  const res = await fetch(`http://hotmount${path}`, { unix: instancePaths(NAME).agentSock, method, body, headers } as RequestInit);
  const text = await res.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, text, json };
}

async function guestMountsAt(mp: string): Promise<string[]> {
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(Number.parseInt(o, 8)));
  const text = await vm.run(["cat", "/proc/mounts"]);
  return text
    .split("\n")
    .map((l) => l.split(" "))
    .filter((f) => f[1] !== undefined && unescape(f[1]) === mp)
    .map((f) => f[2]!);
}

/** The checks every error shares: its code, a one-line message, a hint; and no mount appeared. */
async function expectCleanError(e: any, code: ErrorCode, match?: RegExp) {
  expect(e?.code).toBe(code);
  expect(typeof e.message).toBe("string");
  expect(e.message).not.toMatch(/[\n\r]/);
  expect(typeof e.hint).toBe("string");
  expect(e.hint.length).toBeGreaterThan(5);
  if (match) expect(e.message).toMatch(match);
  expect((await api("GET", "/v1/mounts")).json.mounts).toEqual([]);
}

async function cliError(args: string[], code: ErrorCode, match?: RegExp, opts: { cwd?: string } = {}) {
  const r = await hm([...args, "--json"], { cwd: opts.cwd });
  expect(r.code).toBe(ERROR_CODES[code][0]);
  await expectCleanError(r.json().error, code, match);
  // The human form: exactly "error: <message>" and "hint: <hint>".
  const human = await hm(args, { cwd: opts.cwd });
  expect(human.code).toBe(ERROR_CODES[code][0]);
  expect(human.stderr).toMatch(/^error: [^\n]+\nhint: [^\n]+\n$/);
}

async function verifyAndRemove(m: any, c: MountCase, type: string, via: "cli" | "api") {
  const exp = c.expect as { mountPoint: string; hostPath: string };
  const mp = at(exp.mountPoint);
  const host = at(exp.hostPath);
  expect(m).toMatchObject({ state: "ready", mountPoint: mp, hostPath: host, type });
  // The guest has exactly this folder at exactly this place.
  expect(await guestMountsAt(mp)).toEqual([FSTYPE[type]!]);
  expect(await vm.run(["cat", "--", `${mp}/marker`])).toBe(`marker of ${host}`);
  if (via === "cli") await hmOk(["mount", "remove", NAME, mp]);
  else expect((await api("DELETE", `/v1/mounts/${encodeURIComponent(mp)}`)).status).toBe(204);
  expect(await guestMountsAt(mp)).toEqual([]);
  expect((await api("GET", "/v1/mounts")).json.mounts).toEqual([]);
}

test("the canary check sees a canary (control), and none is there before the table", async () => {
  writeFileSync(HOST_CANARY, "");
  await vm.run(["touch", GUEST_CANARY]);
  expect(existsSync(HOST_CANARY)).toBe(true);
  expect((await vm.exec(["test", "-e", GUEST_CANARY])).code).toBe(0);
  rmSync(HOST_CANARY);
  await vm.run(["rm", GUEST_CANARY]);
  expect(existsSync(HOST_CANARY)).toBe(false);
  expect((await vm.exec(["test", "-e", GUEST_CANARY])).code).not.toBe(0);
});

describe("mount add: host paths, guest paths", () => {
  CASES.forEach((c, i) => {
    for (const via of c.via ?? (["cli", "api"] as const)) {
      const type = c.type ?? TYPES[(i + (via === "api" ? 1 : 0)) % TYPES.length]!;
      test(`${via} ${type}: ${c.name}`, async () => {
        const host = at(c.host);
        const guest = c.guest === undefined ? undefined : at(c.guest);
        if (via === "cli") {
          const args = ["mount", "add", NAME, host, ...(guest === undefined ? [] : [guest]), "--type", type];
          if (typeof c.expect === "string") return cliError(args, c.expect, c.match, { cwd: c.cwd ? R : undefined });
          const r = await hm([...args, "--json"], { cwd: c.cwd ? R : undefined });
          if (r.code !== 0) throw new Error(`exit ${r.code}: ${r.stdout} ${r.stderr}`);
          return verifyAndRemove(r.json(), c, type, via);
        }
        const body = JSON.stringify({ hostPath: host, ...(guest === undefined ? {} : { mountPoint: guest }), type });
        const r = await api("POST", "/v1/mounts", body, { "content-type": "application/json" });
        if (typeof c.expect === "string") {
          expect(r.status).toBe(ERROR_CODES[c.expect][1]);
          return expectCleanError(r.json, c.expect, c.match);
        }
        if (r.status !== 201) throw new Error(`HTTP ${r.status}: ${r.text}`);
        return verifyAndRemove(r.json, c, type, via);
      });
    }
  });
});

describe("mount add: the same place twice, overlaps, one host folder twice", () => {
  test("conflicts are refused through both interfaces; a second guest path for one host folder works", async () => {
    const plain = join(R, "plain");
    await hmOk(["mount", "add", NAME, plain, "/mnt/dup"]);
    for (const mp of ["/mnt/dup", "/mnt/dup/", "/mnt//dup", "/mnt/dup/inner", "/mnt", "/mnt/x/../dup"]) {
      const r = await hm(["mount", "add", NAME, plain, mp, "--json"]);
      expect(r.code).toBe(ERROR_CODES.MOUNT_CONFLICT[0]);
      expect(r.json().error.hint).toContain("remove");
      const a = await api("POST", "/v1/mounts", JSON.stringify({ hostPath: plain, mountPoint: mp }));
      expect(a.status).toBe(409);
      expect(a.json.code).toBe("MOUNT_CONFLICT");
      expect(a.json.message).not.toContain("\n");
    }
    const second = (await hmOk(["mount", "add", NAME, plain, "/mnt/dup2", "--type", "9p", "--json"])).json();
    expect(second.hostPath).toBe(plain);
    expect(await guestMountsAt("/mnt/dup")).toEqual(["virtiofs"]);
    expect(await guestMountsAt("/mnt/dup2")).toEqual(["9p"]);
    expect(await vm.run(["cat", "/mnt/dup/marker", "/mnt/dup2/marker"])).toBe(`marker of ${plain}marker of ${plain}`);
    await hmOk(["mount", "remove", NAME, "/mnt/dup"]);
    await hmOk(["mount", "remove", NAME, second.id]);
    expect((await hmOk(["mount", "list", NAME, "--json"])).json()).toEqual([]);
  });
});

describe("CLI options, instance names, remove targets", () => {
  for (const c of OPTION_CASES) {
    test(c.name, async () => {
      const args = c.args.map(at);
      if (c.expect === "commander") {
        const r = await hm(args);
        expect(r.code).toBe(2);
        expect(r.stderr).toMatch(/^error: [^\n]+\n\(add --help for usage\)\n$/);
        expect((await api("GET", "/v1/mounts")).json.mounts).toEqual([]);
        return;
      }
      await cliError(args, c.expect, c.match);
    });
  }

  test("a host folder whose name is not UTF-8: a clear error, through argv bytes", async () => {
    const argv = [...hotmountArgv(), "mount", "add", "--json", NAME];
    const p = Bun.spawn(["sh", "-c", 'a=$1; shift; exec "$@" "$(printf "%s\\377" "$a")" /mnt/bad', "sh", `${R}/bad-`, ...argv], {
      stdout: "pipe",
      stderr: "pipe",
    });
    const [out, , code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    expect(code).toBe(2);
    await expectCleanError(JSON.parse(out).error, "INVALID_ARGUMENT", /valid UTF-8/);
  });

  test("a guest path that is not UTF-8: a clear error, not a mount at a U+FFFD path", async () => {
    const argv = [...hotmountArgv(), "mount", "add", "--json", NAME, join(R, "plain")];
    const p = Bun.spawn(["sh", "-c", 'exec "$@" "$(printf "/mnt/bad-\\377")"', "sh", ...argv], { stdout: "pipe", stderr: "pipe" });
    const [out, , code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    expect(code).toBe(2);
    await expectCleanError(JSON.parse(out).error, "INVALID_ARGUMENT", /U\+FFFD/);
  });
});

describe("raw API: bodies, types, sizes, methods, ids", () => {
  for (const c of RAW_CASES) {
    test(c.name, async () => {
      const body = typeof c.body === "function" ? c.body(R) : c.body;
      const r = await api(c.method, at(c.path), body as Body | undefined, c.headers);
      expect(r.status).toBe(c.status ?? ERROR_CODES[c.code as ErrorCode][1]);
      if (c.code) await expectCleanError(r.json, c.code, c.match);
      if (c.check) await c.check(r, (m, p) => api(m, p));
    });
  }

  test("the VM and its agent are still there after all of it", async () => {
    const info = await api("GET", "/v1/info");
    expect(info.status).toBe(200);
    expect(info.json.state).toBe("running");
  });
});

test("no payload ran: no canary on the host or in the guest; no mount left", async () => {
  expect(existsSync(HOST_CANARY)).toBe(false);
  expect((await vm.exec(["test", "-e", GUEST_CANARY])).code).not.toBe(0);
  expect((await api("GET", "/v1/mounts")).json.mounts).toEqual([]);
  expect(await vm.run(["cat", "/proc/mounts"])).not.toMatch(/ (virtiofs|9p|fuse\.sshfs) /);
  console.log(
    `hostile cases: ${CASES.reduce((n, c) => n + (c.via?.length ?? 2), 0)} mount requests, ${OPTION_CASES.length + 2} CLI option cases, ${RAW_CASES.length} raw API cases`,
  );
});
