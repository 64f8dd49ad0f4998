// Access: the agent's API socket is private to its user, another uid is refused, and
// every command that reads state (and the agent) refuses a state folder others could write to.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ERROR_CODES } from "../../src/core/errors.ts";
import { instancePaths } from "../../src/core/paths.ts";
import { hm, hmOk } from "../helpers/cli.ts";
import { useVm } from "../helpers/vm.ts";

const NAME = "access";
useVm(NAME, ["--memory", "384M"]);
const OTHER = "hm-acc-test";
let createdUser = false;
let otherUid = -1;
let otherGid = -1;
const scratch: string[] = [];

async function sh(argv: string[], env: Record<string, string> = {}) {
  const p = Bun.spawn(argv, { stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

beforeAll(async () => {
  if ((await sh(["id", "-u", OTHER])).code !== 0) {
    const r = await sh(["useradd", "-M", "-r", "-s", "/usr/sbin/nologin", "-U", OTHER]);
    if (r.code !== 0) throw new Error(`useradd failed: ${r.stderr}`);
    createdUser = true;
  }
  otherUid = Number((await sh(["id", "-u", OTHER])).stdout.trim());
  otherGid = Number((await sh(["id", "-g", OTHER])).stdout.trim());
});

afterAll(async () => {
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
  if (createdUser) await sh(["userdel", OTHER]);
});

/** A fetch of the agent API from a bun process running as the other user: "HTTP <status>" or "ERR <code>". */
async function fetchAsOther(sock: string, how: "runuser" | "setpriv", path = "/v1/mounts", method = "GET"): Promise<string> {
  const drop = how === "runuser" ? ["runuser", "-u", OTHER, "--"] : ["setpriv", `--reuid=${otherUid}`, `--regid=${otherGid}`, "--clear-groups", "--"];
  const body = method === "POST" ? JSON.stringify({ hostPath: "/tmp" }) : undefined;
  const script = `const r = await fetch("http://x${path}", { unix: ${JSON.stringify(sock)}, method: ${JSON.stringify(method)}, body: ${JSON.stringify(body)} }).catch((e) => e); console.log(r instanceof Response ? "HTTP " + r.status : "ERR " + r.code);`;
  const r = await sh([...drop, "env", "HOME=/tmp", process.execPath, "-e", script]);
  return r.stdout.trim() || r.stderr.trim();
}

describe("the agent's API socket", () => {
  test("is a 0600 socket of ours in a 0700 folder, and every folder above it up to HOTMOUNT_HOME is private", () => {
    const p = instancePaths(NAME);
    const st = statSync(p.agentSock);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
    expect(st.uid).toBe(process.getuid!());
    expect(statSync(p.dir).mode & 0o777).toBe(0o700);
    for (const d of [process.env.HOTMOUNT_HOME!, join(process.env.HOTMOUNT_HOME!, "instances")]) expect(statSync(d).mode & 0o077).toBe(0);
  });

  test("refuses another uid (runuser and setpriv); with the folders opened up the same request passes", async () => {
    const sock = instancePaths(NAME).agentSock;
    // The owner gets through.
    expect((await hmOk(["mount", "list", NAME, "--json"])).json()).toEqual([]);
    for (const how of ["runuser", "setpriv"] as const) expect(await fetchAsOther(sock, how)).toBe("ERR EACCES");
    // A mount attempt from the other uid changes nothing.
    expect(await fetchAsOther(sock, "runuser", "/v1/mounts", "POST")).toBe("ERR EACCES");
    expect((await hmOk(["mount", "list", NAME, "--json"])).json()).toEqual([]);

    // Control: the refusal is the file modes' doing. Open the path and the socket to others and
    // the same user gets an answer; close them again and it is refused again.
    const home = process.env.HOTMOUNT_HOME!;
    const dirs = [home, join(home, "instances"), instancePaths(NAME).dir];
    const before = dirs.map((d) => statSync(d).mode & 0o7777);
    try {
      for (const d of dirs) chmodSync(d, 0o711);
      chmodSync(sock, 0o666);
      expect(await fetchAsOther(sock, "runuser")).toBe("HTTP 200");
    } finally {
      dirs.forEach((d, i) => chmodSync(d, before[i]!));
      chmodSync(sock, 0o600);
    }
    expect(await fetchAsOther(sock, "runuser")).toBe("ERR EACCES");
  });
});

describe("a state folder others could write to", () => {
  // Every command that reads state, and the agent itself; each must refuse before doing anything.
  const COMMANDS: string[][] = [
    ["vm", "list", "--json"],
    ["vm", "start", "x", "--json"],
    ["vm", "stop", "x", "--json"],
    ["vm", "logs", "x"],
    ["mount", "list", "--json"],
    ["mount", "add", "x", "/tmp", "--json"],
    ["mount", "remove", "x", "/mnt/x", "--json"],
    ["shell", "x", "--", "true"],
    ["agent", "x"],
  ];

  function newHome(): string {
    const h = mkdtempSync(`${tmpdir()}/hmt-acc-`);
    scratch.push(h);
    mkdirSync(join(h, "instances", "x"), { recursive: true, mode: 0o700 });
    mkdirSync(join(h, "ssh"), { mode: 0o700 });
    return h;
  }

  async function expectRefused(home: string, bad: string, args: string[], hint: RegExp) {
    const r = await hm(args, { env: { HOTMOUNT_HOME: home }, timeoutMs: 60_000 });
    expect(r.code).toBe(ERROR_CODES.PERMISSION_DENIED[0]);
    if (args[0] === "agent") {
      // The agent logs JSON lines; its failure is the last one.
      const last = JSON.parse(r.stdout.trim().split("\n").pop()!);
      expect(last.error.code).toBe("PERMISSION_DENIED");
      expect(last.error.hint).toMatch(hint);
      return;
    }
    const text = `${r.stdout}${r.stderr}`;
    if (args.includes("--json")) {
      const e = JSON.parse(r.stdout).error;
      expect(e.code).toBe("PERMISSION_DENIED");
      expect(e.message).toContain(bad);
      expect(e.message).not.toContain("\n");
      expect(e.hint).toMatch(hint);
    } else {
      expect(text).toContain(`error: hotmount's state folder ${bad}`);
      expect(text).toMatch(/hint: /);
    }
    // Nothing was started: no instance config was written.
    expect(() => statSync(join(home, "instances", "x", "instance.json"))).toThrow();
  }

  test.each([
    ["the home is world-writable", (h: string) => (chmodSync(h, 0o777), h), /chmod go-w/],
    ["the home is group-writable", (h: string) => (chmodSync(h, 0o770), h), /chmod go-w/],
    ["instances/ is world-writable", (h: string) => (chmodSync(join(h, "instances"), 0o777), join(h, "instances")), /chmod go-w/],
    ["an instance folder is group-writable", (h: string) => (chmodSync(join(h, "instances", "x"), 0o720), join(h, "instances", "x")), /chmod go-w/],
    ["ssh/ is world-writable", (h: string) => (chmodSync(join(h, "ssh"), 0o703), join(h, "ssh")), /chmod go-w/],
    ["the home belongs to another user", (h: string) => (chownSync(h, otherUid, otherGid), h), /chown/],
    [
      "an instance folder is a symlink",
      (h: string) => {
        rmSync(join(h, "instances", "x"), { recursive: true });
        const elsewhere = mkdtempSync(`${tmpdir()}/hmt-acc-link-`);
        scratch.push(elsewhere);
        symlinkSync(elsewhere, join(h, "instances", "x"));
        return join(h, "instances", "x");
      },
      /real folder/,
    ],
  ] as const)(
    "%s: every command and the agent refuse, naming the folder and the fix",
    async (_what, spoil, hint) => {
      const home = newHome();
      // Control: the same commands get past the check while the folder is private.
      const ok = await hm(["vm", "list", "--json"], { env: { HOTMOUNT_HOME: home } });
      expect(ok.code).toBe(0);
      const bad = spoil(home);
      for (const args of COMMANDS) await expectRefused(home, bad, args, hint);
    },
    240_000,
  );

  test("following the hint (chmod go-w) makes it usable again", async () => {
    const home = newHome();
    chmodSync(home, 0o777);
    const r = await hm(["vm", "list", "--json"], { env: { HOTMOUNT_HOME: home } });
    expect(r.code).toBe(16);
    const fix = JSON.parse(r.stdout).error.hint.replace(/^Run: /, "");
    expect(fix).toBe(`chmod go-w ${home}`);
    await Bun.$`sh -c ${fix}`;
    expect((await hmOk(["vm", "list", "--json"], { env: { HOTMOUNT_HOME: home } })).json()).toEqual([]);
  });

  test("vm start creates a private home (0700) and refuses one made group-writable later", async () => {
    const parent = mkdtempSync(`${tmpdir()}/hmt-acc-`);
    scratch.push(parent);
    const home = join(parent, "new-home");
    // Fails on purpose right after creating the home: QEMU cannot open the kernel.
    await hm(["vm", "start", "y", "--kernel", "/nonexistent", "--json"], { env: { HOTMOUNT_HOME: home }, timeoutMs: 60_000 });
    expect(statSync(home).mode & 0o777).toBe(0o700);
    chmodSync(home, 0o750 | 0o020);
    const r = await hm(["vm", "start", "y", "--json"], { env: { HOTMOUNT_HOME: home } });
    expect(r.code).toBe(16);
    expect(JSON.parse(r.stdout).error.message).toContain("writable by its group");
  });

  test("the live instance: a group-writable instance folder stops the CLI until it is fixed", async () => {
    const dir = instancePaths(NAME).dir;
    chmodSync(dir, 0o770);
    try {
      const r = await hm(["mount", "list", NAME, "--json"]);
      expect(r.code).toBe(16);
      expect(JSON.parse(r.stdout).error).toMatchObject({ code: "PERMISSION_DENIED", hint: `Run: chmod go-w ${dir}` });
    } finally {
      chmodSync(dir, 0o700);
    }
    expect((await hmOk(["mount", "list", NAME, "--json"])).json()).toEqual([]);
  });
});
