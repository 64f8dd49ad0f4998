// SSH to a VZ guest. The guest sits on macOS's NAT network at an address chosen by DHCP, while the
// rest of hotmount reaches every guest at InstanceConfig.ssh (host, port) fixed at start, as QEMU's
// hostfwd gives it. So the process that hosts the VM also forwards ssh.host:ssh.port to guest:22;
// the forwarder lives and dies with the VM.
import { connect, createServer, type Server, type Socket } from "node:net";
import { HotmountError } from "../../src/core/errors.ts";

export interface TcpForward {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Listens on listenHost:listenPort and pipes each connection to targetHost:targetPort. */
export async function startTcpForward(listenHost: string, listenPort: number, targetHost: string, targetPort: number): Promise<TcpForward> {
  const open = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, targetHost);
    open.add(client);
    open.add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) =>
      reject(
        new HotmountError("VM_START_FAILED", `cannot listen on ${listenHost}:${listenPort} for the guest's SSH: ${e.code ?? e.message}`, {
          cause: e,
          hint: "Another program took the instance's SSH port; start the VM again to pick a new one.",
        }),
      ),
    );
    server.listen(listenPort, listenHost, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : listenPort;
  return {
    host: listenHost,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        open.clear();
        server.close(() => resolve());
      }),
  };
}

/** One attempt: connects and reads the server's identification line ("SSH-2.0-..."). */
function readBanner(host: string, port: number, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    let got = "";
    const s = connect(port, host);
    const done = (v: string | null) => {
      clearTimeout(timer);
      s.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    s.on("data", (d: Buffer) => {
      got += d.toString("latin1");
      if (got.includes("\n")) done(got.startsWith("SSH-") ? got.trim() : null);
    });
    s.on("error", () => done(null));
    s.on("close", () => done(null));
  });
}

/**
 * Waits until an SSH server answers at host:port, checking `alive` between attempts so a guest that
 * died is reported at once instead of at the deadline. Returns the banner.
 */
export async function waitForSsh(host: string, port: number, deadlineMs: number, alive: () => void): Promise<string> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    alive();
    const banner = await readBanner(host, port, Math.max(500, Math.min(3000, until - Date.now())));
    if (banner) return banner;
    if (Date.now() >= until) {
      throw new HotmountError("TIMEOUT", `the guest's SSH server did not answer at ${host}:${port} within ${Math.round(deadlineMs / 1000)} s`, {
        hint: "See the serial log in the instance directory: the guest needs sshd and a DHCP client on its virtio NIC.",
      });
    }
    await Bun.sleep(300);
  }
}
