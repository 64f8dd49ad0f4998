// The agent API's route table without a socket or VM: every row answers its method, another method
// on a known path is refused naming the allowed ones, an unknown path is "no such endpoint". The
// mounts behind it are a real MountService on the fakes of test/helpers/fake-guest.ts.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { InstanceConfig } from "../../src/core/instance-config.ts";
import type { AgentHandlers } from "../../src/agent/http.ts";
import { MountService } from "../../src/agent/mount-service.ts";
import { ROUTES, route } from "../../src/agent/routes.ts";
import { errorResponse } from "../../src/agent/http.ts";
import { FakeGuest, FakeSession } from "../helpers/fake-guest.ts";

const host = mkdtempSync(join(tmpdir(), "hm-unit-routes-"));
afterAll(() => rmSync(host, { recursive: true, force: true }));
const log = { info() {}, warn() {}, error() {}, debug() {} };
const cfg = InstanceConfig.parse({
  name: "routes",
  memoryMiB: 512,
  cpus: 1,
  slots: 2,
  kernel: "/dev/null",
  ssh: { host: "127.0.0.1", port: 22, user: "root", identityFile: "/dev/null" },
});
const guest = new FakeGuest();
const mounts: MountService = new MountService({
  cfg,
  session: new FakeSession(2),
  guest: async () => guest,
  ssh: () => Promise.reject(new Error("no ssh")),
  log,
  markFailed: (id, m, h) => mounts.markFailed(id, m, h),
});
let stopped = 0;
const h: AgentHandlers = {
  info: async () => ({ instance: "routes" }) as never,
  inventory: async () => ({ devices: [], backends: [] }),
  mounts,
  stopVm: async () => void stopped++,
};

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const init: RequestInit = { method, ...(body !== undefined && { body: JSON.stringify(body) }) };
  const res = await route(h, new Request(`http://agent${path}`, init)).catch(errorResponse);
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

test("add, list, extend and remove through the table", async () => {
  const added = await call("POST", "/v1/mounts", { hostPath: host, mountPoint: "/mnt/r", forSeconds: 60 });
  expect(added.status).toBe(201);
  expect((await call("GET", "/v1/mounts")).body.mounts.map((m: { mountPoint: string }) => m.mountPoint)).toEqual(["/mnt/r"]);
  const ext = await call("POST", `/v1/mounts/${added.body.id}/extend`, { forSeconds: 60 });
  expect(ext.status).toBe(200);
  expect(Date.parse(ext.body.expiresAt) - Date.parse(added.body.expiresAt)).toBe(60_000);
  expect((await call("DELETE", `/v1/mounts/${encodeURIComponent("/mnt/r")}?force=1`)).status).toBe(204);
  expect(guest.mounts.size).toBe(0);
  expect((await call("DELETE", "/v1/mounts/hm00000000")).body.code).toBe("MOUNT_NOT_FOUND");
  expect((await call("POST", "/v1/vm/stop")).status).toBe(204);
  expect(stopped).toBe(1);
});

test("a known path asked with another method is refused naming the methods it takes", async () => {
  const cases: [string, string, string][] = [
    ["PUT", "/v1/mounts", "Use GET or POST"],
    ["GET", "/v1/mounts/hm00000000", "Use DELETE"],
    ["GET", "/v1/mounts/hm00000000/extend", "Use POST"],
    ["POST", "/v1/info", "Use GET"],
    ["DELETE", "/v1/vm/stop", "Use POST"],
  ];
  for (const [method, path, hint] of cases) {
    const r = await call(method, path);
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ code: "USAGE", message: `${method} is not allowed on ${path}` });
    expect(r.body.hint).toStartWith(hint);
  }
});

test("an unknown path is no such endpoint; events without an activity feed are UNSUPPORTED", async () => {
  expect((await call("GET", "/v1/nope")).body).toMatchObject({ code: "USAGE", message: "no such endpoint: GET /v1/nope" });
  expect((await call("GET", "/v1/events")).body.code).toBe("UNSUPPORTED");
});

test("every row of the table is reachable with its own method", async () => {
  for (const r of ROUTES) {
    const path = typeof r.path === "string" ? r.path : r.path.source.includes("extend") ? "/v1/mounts/hmx/extend" : "/v1/mounts/hmx";
    const res = await call(r.method, path, r.method === "POST" ? {} : undefined);
    expect(`${r.method} ${path} ${res.body?.message ?? ""}`).not.toMatch(/not allowed|no such endpoint/);
  }
});
