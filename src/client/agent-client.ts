// HTTP over the instance's unix socket; API errors come back as the same typed HotmountError.
// Plain HTTP only: starting an agent is client/agent-supervisor.ts's job, and commands reach
// agents through the one facade in client/local-client.ts.
import { existsSync } from "node:fs";
import type { DeviceInventory } from "../../drivers/driver.ts";
import { type ErrorJson, HotmountError } from "../core/errors.ts";
import { instancePaths } from "../core/paths.ts";
import { buildInfo } from "../core/build-info.ts";
import { checkAgentApi } from "../core/versions.ts";
import { clientHeaders } from "./client-identity.ts";
import { Info, Mount, MountList, type MountRequest } from "../agent/api.ts";

export class AgentClient {
  readonly socket: string;

  constructor(readonly instance: string) {
    this.socket = instancePaths(instance).agentSock;
  }

  get present(): boolean {
    return existsSync(this.socket);
  }

  /** Says why there is no agent to talk to: no such instance, or not running. */
  private notThere(): HotmountError {
    if (!existsSync(instancePaths(this.instance).config)) {
      return new HotmountError("INSTANCE_NOT_FOUND", `no instance named "${this.instance}"`, {
        hint: "See `hotmount vm list`; create one with `hotmount vm start NAME`.",
      });
    }
    return new HotmountError("INSTANCE_NOT_RUNNING", `instance "${this.instance}" is not running`, { hint: `Start it: hotmount vm start ${this.instance}` });
  }

  private async call(method: string, path: string, body?: unknown, timeoutMs = 120_000): Promise<Response> {
    if (!this.present) throw this.notThere();
    let res: Response;
    try {
      res = await fetch(`http://hotmount${path}`, {
        method,
        unix: this.socket,
        headers: { ...clientHeaders(), ...(body === undefined ? {} : { "content-type": "application/json" }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      } as RequestInit);
    } catch (e) {
      throw new HotmountError("AGENT_UNREACHABLE", `the agent of "${this.instance}" does not answer`, {
        cause: e,
        hint: `The next command restarts an agent that died; \`hotmount vm start ${this.instance}\` replaces one that hangs. See \`hotmount vm logs ${this.instance} --agent\`.`,
      });
    }
    checkAgentApi(this.instance, res.headers, buildInfo().version);
    if (!res.ok) {
      let j: ErrorJson;
      try {
        j = (await res.json()) as ErrorJson;
      } catch {
        j = { code: "INTERNAL", message: `agent answered HTTP ${res.status}` };
      }
      throw HotmountError.fromJSON(j);
    }
    return res;
  }

  async info(timeoutMs?: number): Promise<Info> {
    return Info.parse(await (await this.call("GET", "/v1/info", undefined, timeoutMs)).json());
  }

  async inventory(): Promise<DeviceInventory> {
    return (await (await this.call("GET", "/v1/inventory")).json()) as DeviceInventory;
  }

  async mounts(): Promise<Mount[]> {
    return MountList.parse(await (await this.call("GET", "/v1/mounts")).json()).mounts;
  }

  async add(req: MountRequest): Promise<Mount> {
    return Mount.parse(await (await this.call("POST", "/v1/mounts", req)).json());
  }

  async remove(idOrMountPoint: string, force = false): Promise<void> {
    await this.call("DELETE", `/v1/mounts/${encodeURIComponent(idOrMountPoint)}${force ? "?force=1" : ""}`);
  }

  async stopVm(): Promise<void> {
    await this.call("POST", "/v1/vm/stop", undefined, 180_000);
  }
}
