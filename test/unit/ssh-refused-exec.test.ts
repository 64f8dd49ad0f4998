// A guest SSH server that refuses an exec request ran nothing, so GuestSsh asks again (bounded),
// and a server that keeps refusing is still an error. The server is ssh2's own, in this process
// (the process edge: the guest's sshd); the client is the agent's GuestSsh, unchanged.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Server, utils } from "ssh2";
import { GuestSsh } from "../../src/guest-exec/ssh-client.ts";

let dir: string;
let server: Server;
let port = 0;
/** Exec requests the server refuses before it runs one; and every exec request it got. */
let refuse = 0;
const asked: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "hm-ssh-refuse-"));
  const client = utils.generateKeyPairSync("ed25519");
  writeFileSync(join(dir, "id"), client.private, { mode: 0o600 });
  const host = utils.generateKeyPairSync("ed25519");
  server = new Server({ hostKeys: [host.private] }, (conn) => {
    conn.on("authentication", (ctx) => (ctx.method === "publickey" ? ctx.accept() : ctx.reject(["publickey"])));
    conn.on("ready", () =>
      conn.on("session", (accept) =>
        accept().on("exec", (acc, rej, info) => {
          asked.push(info.command);
          if (refuse > 0) {
            refuse--;
            return rej();
          }
          const ch = acc();
          ch.write(`ran ${info.command}\n`);
          ch.exit(0);
          ch.end();
        }),
      ),
    );
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  port = (server.address() as { port: number }).port;
});
afterAll(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

const connect = () => GuestSsh.connect({ host: "127.0.0.1", port, user: "root", identityFile: join(dir, "id") });

test("an exec request refused twice is asked again and runs once", async () => {
  const ssh = await connect();
  refuse = 2;
  asked.length = 0;
  const r = await ssh.exec(["echo", "x"]);
  expect(r).toEqual({ code: 0, stdout: "ran echo x\n", stderr: "" });
  expect(asked).toEqual(["echo x", "echo x", "echo x"]);
  ssh.close();
});

test("a server that keeps refusing is an SSH_FAILED error after three requests", async () => {
  const ssh = await connect();
  refuse = 5;
  asked.length = 0;
  const err = await ssh.exec(["true"]).catch((e) => e);
  expect(err.code).toBe("SSH_FAILED");
  expect(err.message).toContain("Unable to exec");
  expect(asked.length).toBe(3);
  refuse = 0;
  ssh.close();
});
