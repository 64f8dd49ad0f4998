// A guest process on an SSH exec channel read as lines: the test watchers in the guest
// (inotifywait, @parcel/watcher) print one event a line, and the tests look through them.
import type { ClientChannel } from "ssh2";

export interface ChannelLines {
  /** Every complete stdout line so far. */
  lines: string[];
  /** All of stderr so far. */
  stderr(): string;
  /** Ends the process's stdin (the watchers end on it: dropbear forwards no signals) and waits for the channel to close. */
  close(): Promise<void>;
}

export function channelLines(ch: ClientChannel): ChannelLines {
  const lines: string[] = [];
  let buf = "";
  let err = "";
  ch.on("data", (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
  ch.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const closed = new Promise<void>((r) => ch.on("close", () => r()));
  return {
    lines,
    stderr: () => err,
    async close() {
      ch.end();
      await closed;
    },
  };
}
