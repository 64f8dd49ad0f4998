// Running the image build's host tools: argv only, both output streams read line by line (the
// tools report progress on either), a bounded tail kept for the error message.
import { HotmountError } from "../../core/errors.ts";

const TOOL_HINTS: Record<string, string> = {
  debootstrap: "Install debootstrap: ./scripts/setup installs it (scripts/deps/debian-guest.txt), or apt-get install debootstrap.",
  "mkfs.ext4": "Install e2fsprogs (apt-get install e2fsprogs); ./scripts/setup does.",
  genisoimage: "Install genisoimage (apt-get install genisoimage); ./scripts/setup does.",
  "qemu-img": "Install qemu-utils (apt-get install qemu-utils); ./scripts/setup does.",
};

export function toolHint(tool: string): string {
  return TOOL_HINTS[tool] ?? `Install ${tool}.`;
}

/** Fails early, with the install hint, when a tool is not on PATH. */
export function requireTool(tool: string): string {
  const p = Bun.which(tool, { PATH: `${process.env.PATH ?? ""}:/usr/sbin:/sbin` });
  if (!p) throw new HotmountError("HOST_DEPENDENCY_MISSING", `${tool} is not installed`, { hint: toolHint(tool) });
  return p;
}

export async function runTool(argv: string[], opts: { onLine?: (line: string) => void; cwd?: string } = {}): Promise<string> {
  const proc = Bun.spawn(argv, { cwd: opts.cwd, stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, LC_ALL: "C" } });
  const tail: string[] = [];
  let out = "";
  const pump = async (stream: ReadableStream<Uint8Array>, keep: boolean) => {
    const dec = new TextDecoder();
    let partial = "";
    const line = (l: string) => {
      tail.push(l);
      if (tail.length > 40) tail.shift();
      opts.onLine?.(l);
    };
    for await (const chunk of stream) {
      const text = dec.decode(chunk, { stream: true });
      if (keep) out += text;
      const lines = (partial + text).split("\n");
      partial = lines.pop() ?? "";
      lines.forEach(line);
    }
    if (partial) line(partial);
  };
  await Promise.all([pump(proc.stdout, true), pump(proc.stderr, false)]);
  const code = await proc.exited;
  if (code !== 0) {
    const tool = argv[0]!.split("/").pop()!;
    throw new HotmountError("INTERNAL", `${tool} failed (exit ${code})`, {
      hint: tail.slice(-8).join("\n") || toolHint(tool),
      details: { argv, tail },
    });
  }
  return out;
}
