// The agent API's one route table: method, path, handler. A request is served by the row that
// matches its method and path; a path some row has, asked with another method, is refused
// (USAGE) naming the methods that path takes; any other path is "no such endpoint".
import { HotmountError } from "../core/errors.ts";
import { traced, traceStep } from "../core/trace.ts";
import { audited, eventStream, extendMount } from "./activity-routes.ts";
import { json, mountKey, readJson, type AgentHandlers } from "./http.ts";

type Handler = (h: AgentHandlers, req: Request, url: URL, key: string) => Promise<Response>;

interface Route {
  method: "GET" | "POST" | "DELETE";
  /** An exact path, or a pattern whose one group is the mount key (percent-encoded). */
  path: string | RegExp;
  handler: Handler;
}

const MOUNT = /^\/v1\/mounts\/(.*)$/;
const EXTEND = /^\/v1\/mounts\/(.+)\/extend$/;

function forceFlag(v: string | null): boolean {
  if (v === null || v === "" || v === "0" || v === "false") return false;
  if (v === "1" || v === "true") return true;
  throw new HotmountError("INVALID_ARGUMENT", `force must be 1, true, 0 or false, not ${JSON.stringify(v.slice(0, 40))}`, {
    hint: "DELETE /v1/mounts/{id}?force=1",
  });
}

const noContent = () => new Response(null, { status: 204 });

/** In match order: the extend row comes before the general /v1/mounts/{key} row. */
export const ROUTES: readonly Route[] = [
  { method: "GET", path: "/v1/info", handler: async (h) => json(await h.info()) },
  { method: "GET", path: "/v1/inventory", handler: async (h) => json(await h.inventory()) },
  { method: "GET", path: "/v1/mounts", handler: async (h) => json({ mounts: h.mounts.list() }) },
  {
    method: "POST",
    path: "/v1/mounts",
    handler: async (h, req) => {
      const body = await readJson(req);
      return json(await audited(h, req, "add", body, () => traced("add", "choosing the guest channel", () => h.mounts.add(body, traceStep))), 201);
    },
  },
  { method: "GET", path: "/v1/events", handler: async (h, _req, url) => eventStream(h, url) },
  { method: "POST", path: EXTEND, handler: async (h, req, _url, key) => extendMount(h, req, mountKey(key)) },
  {
    method: "DELETE",
    path: MOUNT,
    handler: async (h, req, url, raw) => {
      const key = mountKey(raw);
      const force = forceFlag(url.searchParams.get("force"));
      await audited(h, req, "remove", h.mounts.find(key) ?? { mountPoint: key }, () =>
        traced("remove", "stopping the watch", () => h.mounts.remove(key, { force }, traceStep)),
      );
      return noContent();
    },
  },
  {
    method: "POST",
    path: "/v1/vm/stop",
    handler: async (h) => {
      await h.stopVm();
      return noContent();
    },
  },
];

/** The route's key when `path` is its path ("" for an exact path), else null. */
function matchPath(r: Route, path: string): string | null {
  if (typeof r.path === "string") return r.path === path ? "" : null;
  return r.path.exec(path)?.[1] ?? null;
}

export async function route(h: AgentHandlers, req: Request): Promise<Response> {
  const url = new URL(req.url);
  const path = url.pathname;
  const hit = ROUTES.find((r) => r.method === req.method && matchPath(r, path) !== null);
  if (hit) return hit.handler(h, req, url, matchPath(hit, path)!);
  // The path is percent-encoded (one line); cut it short so a huge URL makes a short message.
  const shown = path.length > 120 ? `${path.slice(0, 120)}...` : path;
  // The first row whose path matches names the path's methods (an extend path is a POST target).
  const first = ROUTES.find((r) => matchPath(r, path) !== null);
  if (first) {
    const allowed = ROUTES.filter((r) => r.path === first.path).map((r) => r.method);
    throw new HotmountError("USAGE", `${req.method} is not allowed on ${shown}`, { hint: `Use ${allowed.join(" or ")}; see docs/embedding.md.` });
  }
  throw new HotmountError("USAGE", `no such endpoint: ${req.method} ${shown}`, { hint: "See docs/embedding.md for the API." });
}
