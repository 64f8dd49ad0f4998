// The agent's HTTP API on a unix socket (0600 in a 0700 directory): the route table (routes.ts)
// behind Bun's server, every answer stamped with the API and agent version. Errors are JSON
// {code, message, hint}; HotmountError carries its own HTTP status (one table in core/errors).
import { chmodSync, rmSync } from "node:fs";
import { buildInfo } from "../core/build-info.ts";
import { AGENT_VERSION_HEADER, API_HEADER, API_VERSION } from "../core/versions.ts";
import { errorResponse, type AgentHandlers } from "./http.ts";
import { route } from "./routes.ts";

/** Every response says which API and version the agent speaks (src/core/versions.ts). */
function versioned(res: Response): Response {
  res.headers.set(API_HEADER, String(API_VERSION));
  res.headers.set(AGENT_VERSION_HEADER, buildInfo().version);
  return res;
}

export function serveAgent(socketPath: string, h: AgentHandlers) {
  rmSync(socketPath, { force: true });
  // The socket is born 0600 (no window before the chmod); its folder is 0700 as well.
  const umask = process.umask(0o077);
  try {
    const server = Bun.serve({
      unix: socketPath,
      // readJson enforces MAX_BODY_BYTES with a JSON error; Bun's own limit answers a bare 413.
      maxRequestBodySize: 2 ** 40,
      // A mount or remove may take longer than Bun's default idle timeout of 10 s (the guest
      // umount and device_del deadlines are 15 s each), and fetch retries a request whose
      // connection is cut, so the agent would run it twice. The client has its own timeout.
      // Bun 1.4 honours idleTimeout on unix sockets though its types omit it there, and
      // server.timeout(req, 0) does not lift the default (both checked).
      ...({ idleTimeout: 0 } as {}),
      fetch: (req) => route(h, req).catch(errorResponse).then(versioned),
      error: (e) => versioned(errorResponse(e)),
    });
    chmodSync(socketPath, 0o600);
    return server;
  } finally {
    process.umask(umask);
  }
}
