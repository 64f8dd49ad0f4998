// Fakes at the mount service's process edges, for its unit tests: a guest that answers the
// commands the agent runs (mount table, folders, mount/umount, fuser) from a small in-memory
// model, and a driver session whose hot-plugger hands out slots. Everything between them (the
// service, the records, the journal, the guest-side mount logic, the device transport) is real.
import type { DriverSession, FSHotPlugger, PlugRequest } from "../../drivers/driver.ts";
import type { PluggedDevice } from "../../src/core/model.ts";
import { checkExit, type ExecOptions, type ExecResult, type GuestExec } from "../../src/guest-exec/index.ts";

const ok = (stdout = ""): ExecResult => ({ code: 0, stdout, stderr: "" });
const fail = (stderr: string, code = 32): ExecResult => ({ code, stdout: "", stderr });

export class FakeGuest implements GuestExec {
  readonly via = "ssh" as const;
  readonly dirs = new Set<string>(["/", "/mnt", "/home"]);
  /** mount point → source (tag) and fstype, in mount order. */
  readonly mounts = new Map<string, { source: string; fstype: string }>();
  /** Mount points a process holds ("pid comm"): umount says busy until `fuser -k`. */
  readonly holders = new Map<string, string>();
  /** Every argv run, in order. */
  readonly log: string[][] = [];
  /** Commands (argv[0]) that throw as a dropped connection would. */
  readonly broken = new Set<string>();

  async exec(argv: readonly string[], _opts?: ExecOptions): Promise<ExecResult> {
    this.log.push([...argv]);
    if (this.broken.has(argv[0]!)) throw new Error(`connection to the guest lost during ${argv[0]}`);
    const a = [...argv];
    const last = a[a.length - 1]!;
    switch (a[0]) {
      case "cat":
        if (a[1] === "/proc/mounts") return ok(this.table());
        return ok(`${[...this.holders.values()].find((h) => h.startsWith(a[1]!.split("/")[2] + " "))?.split(" ")[1] ?? "?"}\n`);
      case "sh": {
        if (a[3] === "hotmount-mount") return this.mountScript(a.slice(4));
        if (a[3] === "hotmount-umount") return this.umountScript(a.slice(4));
        // guest-mount.ts's probe: the deepest existing part (twice: no symlinks here), what the
        // path is, then the mount table.
        let p = a[4]!;
        while (!this.dirs.has(p)) p = p.slice(0, p.lastIndexOf("/")) || "/";
        if (a[3] !== "hotmount-probe") return ok(`${p}\n${p}\n`);
        return ok(`${p}\n${p}\n${this.dirs.has(a[4]!) ? "dir" : "none"}\n${this.table()}`);
      }
      case "test":
        return this.dirs.has(last) ? ok() : fail("", 1);
      case "mkdir":
        for (let p = last; p && p !== "/"; p = p.slice(0, p.lastIndexOf("/"))) this.dirs.add(p);
        return ok();
      case "rmdir":
        return this.dirs.delete(last) ? ok() : fail(`rmdir: ${last}: No such file or directory`, 1);
      case "mount":
        if (!this.dirs.has(last)) return fail(`mount: ${last}: mount point does not exist.`);
        this.mounts.set(last, { source: a[a.length - 2]!, fstype: a[2]! });
        return ok();
      case "sync":
        return ok();
      case "umount":
        if (!this.mounts.has(last)) return fail(`umount: ${last}: not mounted.`);
        if (this.holders.has(last) && a[1] !== "-l") return fail(`umount: ${last}: target is busy.`);
        this.mounts.delete(last);
        return ok();
      case "fuser":
        if (a[1] === "-k") return this.holders.delete(last) ? ok() : fail("", 1);
        return this.holders.has(last) ? ok(` ${this.holders.get(last)!.split(" ")[0]}`) : fail("", 1);
      case "id":
        return ok("uid=1000(dev) gid=1000(dev) groups=1000(dev)\n");
      default:
        return fail(`${a[0]}: not found`, 127);
    }
  }

  /** guest-mount.ts's mount script ([mkdir 0/1, mount point, ...mount argv]), run through the commands it runs. */
  private async mountScript([mk, mp, ...argv]: string[]): Promise<ExecResult> {
    if (mk === "1" && (await this.exec(["mkdir", "-p", "--", mp!])).code !== 0) return fail("mkdir failed", 3);
    const r = await this.exec(argv);
    return r.code === 0 ? ok() : fail(r.stderr, 32);
  }

  /** guest-unmount.ts's unmount script ([mount point, tag, sync 0/1, rmdir 0/1]), likewise. */
  private async umountScript([mp, tag, sync, rmdir]: string[]): Promise<ExecResult> {
    const copies = [...this.mounts.values()].filter((m) => m.source === tag && (m.fstype === "virtiofs" || m.fstype === "9p")).length;
    if (tag && copies > 1) return ok(`shared\n${this.table()}`);
    if (sync === "1") await this.exec(["sync", "-f", "--", mp!]);
    const u = await this.exec(["umount", "--", mp!]);
    const d = u.code === 0 && rmdir === "1" && (await this.exec(["rmdir", "--", mp!])).code === 0;
    return { code: 0, stdout: `umount ${u.code} ${d ? 1 : 0}\n${this.table()}`, stderr: u.stderr };
  }

  /** /proc/mounts as the model has it. */
  table(): string {
    return [...this.mounts].map(([mp, m]) => `${m.source} ${mp} ${m.fstype} rw 0 0\n`).join("");
  }

  async run(argv: readonly string[], opts?: ExecOptions): Promise<string> {
    return checkExit(argv, await this.exec(argv, opts));
  }
}

/** A session whose hot-plugger hands out `slots` slots; `failPlug` makes the next plug fail. */
export class FakeSession implements DriverSession, FSHotPlugger {
  readonly driver = "fake";
  readonly plugged = new Map<string, PluggedDevice>();
  readonly scrubbed: string[] = [];
  failPlug: Error | null = null;

  constructor(private readonly slots = 4) {}

  async transports() {
    return [];
  }
  async powerOff(): Promise<void> {}
  async close(): Promise<void> {}
  async capacity() {
    return { total: this.slots, used: this.plugged.size };
  }
  async plug(req: PlugRequest): Promise<PluggedDevice> {
    const err = this.failPlug;
    this.failPlug = null;
    if (err) throw err;
    const slot = [...Array(this.slots).keys()].map((i) => `rp${i}`).find((s) => ![...this.plugged.values()].some((d) => d.slot === s));
    if (!slot) throw new Error("no free slot");
    const dev: PluggedDevice = { id: req.id, type: req.type, tag: req.id, slot };
    this.plugged.set(req.id, dev);
    return dev;
  }
  async unplug(dev: PluggedDevice): Promise<void> {
    this.plugged.delete(dev.id);
  }
  async scrub(id: string): Promise<void> {
    this.scrubbed.push(id);
    this.plugged.delete(id);
  }
  async inventory() {
    return { devices: [...this.plugged.values()].map((d) => ({ id: d.id, slot: d.slot })), backends: [] };
  }
}
