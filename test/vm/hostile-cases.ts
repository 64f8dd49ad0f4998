// The table of test/vm/hostile.test.ts. "@R" is that test's scratch folder on the host, "@HOME"
// the test's HOTMOUNT_HOME. Payloads aim at /tmp/hm-canary-host and /tmp/hm-canary-guest.
import { expect } from "bun:test";
import type { ErrorCode } from "../../src/core/errors.ts";

export interface MountCase {
  name: string;
  host: string;
  guest?: string;
  /** Forced transport; otherwise the test rotates through all three. */
  type?: "virtiofs" | "9p" | "reverse-sshfs";
  via?: ("cli" | "api")[];
  /** Host folders to create first (each gets a marker file naming it). */
  mkdirs?: string[];
  /** Run the CLI in @R (relative paths). */
  cwd?: boolean;
  expect: ErrorCode | { mountPoint: string; hostPath: string };
  match?: RegExp;
}

const INV = "INVALID_ARGUMENT" as const;
const CONFLICT = "MOUNT_CONFLICT" as const;
const AB = "@R/a;b $(touch /tmp/hm-canary-host)";

/** Host folders with hostile names that must mount as themselves (guest paths /mnt/h1, h2, ...). */
const works: MountCase[] = [];
for (const [dir, type] of [
  [AB],
  ["@R/$(touch /tmp/hm-canary-host)"],
  ["@R/`touch /tmp/hm-canary-host`"],
  ["@R/x;touch /tmp/hm-canary-host;y"],
  ["@R/q'uote\"d & | > < * ? [x] {a,b} ~ !"],
  ["@R/ lead and trail  "],
  // C virtiofsd parses -o source=... : a comma must not start a new option.
  ["@R/comma,source=/etc,ro", "virtiofs"],
  ["@R/back\\slash\\,x", "virtiofs"],
  // sshfs splits host:path at the first colon.
  ["@R/colon:host:/etc", "reverse-sshfs"],
  ["@R/-rf --help"],
  ["@R/ünïcödé 日本 🎉"],
  ["@R/%s%n%x%%"],
  ["@R/dollar $HOME ${PATH} $'\\n'"],
  ["@R/" + "L".repeat(255) + "/" + "M".repeat(200)],
] as [string, MountCase["type"]?][]) {
  const mp = `/mnt/h${works.length + 1}`;
  works.push({
    name: `host folder ${JSON.stringify(dir.replace("@R/", ""))} mounts as itself`,
    host: dir,
    guest: mp,
    type,
    mkdirs: [dir],
    expect: { mountPoint: mp, hostPath: dir },
  });
}

/** A guest path with a hostile name that must be the mount point, as normalized. */
function guestWorks(guest: string, mountPoint = guest): MountCase {
  return {
    name: `guest path ${JSON.stringify(guest)} is the mount point${mountPoint === guest ? "" : ` ${mountPoint}`}`,
    host: "@R/plain",
    guest,
    expect: { mountPoint, hostPath: "@R/plain" },
  };
}

const fails = (
  name: string,
  host: string,
  guest: string | undefined,
  code: ErrorCode,
  match?: RegExp,
  via?: MountCase["via"],
  mkdirs?: string[],
): MountCase => ({ name, host, guest, expect: code, match, via, mkdirs });

export const CASES: MountCase[] = [
  ...works,
  {
    name: "host path with .. inside resolves to the real folder",
    host: "@R/sub/../a;b $(touch /tmp/hm-canary-host)",
    guest: "/mnt/dotdot-host",
    mkdirs: ["@R/sub"],
    expect: { mountPoint: "/mnt/dotdot-host", hostPath: AB },
  },
  {
    name: "host symlink inside the scratch folder resolves to its target",
    host: "@R/link-inside",
    guest: "/mnt/link-host",
    expect: { mountPoint: "/mnt/link-host", hostPath: "@R/real-target" },
  },
  { name: "host path with trailing slashes", host: `${AB}///`, guest: "/mnt/trail", expect: { mountPoint: "/mnt/trail", hostPath: AB } },
  {
    name: "relative host path (CLI, from its cwd)",
    host: "./rel dir;$(touch /tmp/hm-canary-host)",
    guest: "/mnt/rel",
    via: ["cli"],
    cwd: true,
    mkdirs: ["@R/rel dir;$(touch /tmp/hm-canary-host)"],
    expect: { mountPoint: "/mnt/rel", hostPath: "@R/rel dir;$(touch /tmp/hm-canary-host)" },
  },
  { name: "default guest path is the host path, hostile characters and all", host: AB, expect: { mountPoint: AB, hostPath: AB } },

  guestWorks("/mnt/$(touch /tmp/hm-canary-guest)"),
  guestWorks("/mnt/`touch /tmp/hm-canary-guest`"),
  guestWorks("/mnt/x;touch /tmp/hm-canary-guest;y"),
  guestWorks("/mnt/q'uote\"d & | > < * ?"),
  guestWorks("/mnt/with space"),
  guestWorks("/mnt/back\\slash"),
  guestWorks("/mnt/x\\040y"),
  guestWorks("/mnt/a,b,ro=0"),
  guestWorks("/mnt/-o remount"),
  guestWorks("/mnt/ünï 日本"),
  guestWorks("/mnt/x/../dotdot", "/mnt/dotdot"),
  guestWorks("/mnt//double///slash/", "/mnt/double/slash"),
  guestWorks("/mnt/./dot", "/mnt/dot"),
  guestWorks("/mnt/%s%n"),
  guestWorks("/mnt/" + "g".repeat(255)),

  fails("host / is refused", "/", "/mnt/e", INV, /system folder/),
  fails("host /proc is refused", "/proc", "/mnt/e", INV, /system folder/),
  fails("host /proc/self (a symlink into /proc) is refused", "/proc/self", "/mnt/e", INV, /system folder/),
  fails("host /etc is refused", "/etc", "/mnt/e", INV, /system folder/),
  fails("host /sys/kernel is refused", "/sys/kernel", "/mnt/e", INV, /system folder/),
  fails("host /dev/shm is refused", "/dev/shm", "/mnt/e", INV, /system folder/),
  fails("host ../../etc out of the scratch folder is refused", "@R/../../etc", "/mnt/e", INV, /system folder/),
  fails("host /root/../proc/1 is refused", "/root/../proc/1", "/mnt/e", INV, /system folder/),
  fails("host symlink escaping to /etc is refused", "@R/escape-link", "/mnt/e", INV, /system folder \/etc/),
  fails("host symlink to / is refused", "@R/root-link", "/mnt/e", INV, /system folder \/$/),
  fails("host relative symlink climbing into /proc is refused", "@R/proc-link", "/mnt/e", INV, /system folder/),
  fails("missing host folder", "@R/nope;$(touch /tmp/hm-canary-host)", "/mnt/e", INV, /does not exist/),
  fails("host path that is a file", "@R/file.txt", "/mnt/e", INV, /not a folder/),
  fails("empty host path", "", "/mnt/e", INV, /empty|hostPath: Too small/),
  fails("host path with a newline (a real folder)", "@R/nl\nx", "/mnt/e", INV, /control character/),
  fails("host path with a tab (a real folder)", "@R/tab\tx", "/mnt/e", INV, /control character/),
  fails("host path with an escape sequence", "@R/esc\u001b[31mred", "/mnt/e", INV, /control character/),
  fails("host path with a C1 control (CSI)", "@R/c1\u009bx", "/mnt/e", INV, /control character/),
  fails("host path with NUL", "@R/plain\u0000/etc", "/mnt/e", INV, /control character/, ["api"]),
  fails("host path with a lone surrogate", "@R/lone\ud800", "/mnt/e", INV, /not valid Unicode/, ["api"]),
  fails("host path longer than PATH_MAX", "/" + "a/".repeat(2100), "/mnt/e", INV, /Linux allows 4095|hostPath: Too big/),
  fails("host path with a 300-byte name", "@R/" + "x".repeat(300), "/mnt/e", INV, /Linux allows 255/),
  fails("host HOTMOUNT_HOME itself", "@HOME", "/mnt/e", INV, /hotmount's own state/),
  fails("host folder holding HOTMOUNT_HOME (/tmp)", "/tmp", "/mnt/e", INV, /hotmount's own state/),
  fails("host folder inside HOTMOUNT_HOME", "@HOME/instances", "/mnt/e", INV, /hotmount's own state/),
  fails("relative host path through the API", "plain", "/mnt/e", INV, /not absolute/, ["api"]),
  fails("tilde is not expanded (no shell)", "~/plain", "/mnt/e", INV, /does not exist|not absolute/),

  fails("guest / is refused", "@R/plain", "/", INV, /system folder/),
  fails("guest /proc is refused", "@R/plain", "/proc", INV, /system folder/),
  fails("guest /proc/sys/x is refused", "@R/plain", "/proc/sys/x", INV, /system folder/),
  fails("guest /etc is refused", "@R/plain", "/etc", INV, /system folder/),
  fails("guest /etc/ssh is refused", "@R/plain", "/etc/ssh", INV, /system folder/),
  fails("guest /sys is refused", "@R/plain", "/sys", INV, /system folder/),
  fails("guest /dev/shm/x is refused", "@R/plain", "/dev/shm/x", INV, /system folder/),
  fails("guest /usr/local/x is refused", "@R/plain", "/usr/local/x", INV, /system folder/),
  fails("guest /boot/efi is refused", "@R/plain", "/boot/efi", INV, /system folder/),
  fails("guest /mnt/../etc is refused", "@R/plain", "/mnt/../etc", INV, /system folder \/etc/),
  fails("guest /mnt/../../../ is /", "@R/plain", "/mnt/../../../", INV, /system folder \/$/),
  fails("relative guest path", "@R/plain", "mnt/rel", INV, /not absolute/),
  fails("guest path ../mnt", "@R/plain", "../mnt", INV, /not absolute/),
  fails("empty guest path", "@R/plain", "", INV, /empty|mountPoint/),
  fails("guest path with a newline", "@R/plain", "/mnt/nl\n$(touch /tmp/hm-canary-guest)", INV, /control character/),
  fails("guest path with a tab", "@R/plain", "/mnt/tab\tx", INV, /control character/),
  fails("guest path with NUL", "@R/plain", "/mnt/a\u0000;touch /tmp/hm-canary-guest", INV, /control character/, ["api"]),
  fails("guest path with a lone surrogate", "@R/plain", "/mnt/\udc00", INV, /not valid Unicode/, ["api"]),
  fails("guest path longer than PATH_MAX", "@R/plain", "/m/" + "a/".repeat(2100), INV, /Linux allows 4095|mountPoint: Too big/),
  fails("guest path with a 256-byte name", "@R/plain", "/mnt/" + "y".repeat(256), INV, /Linux allows 255/),
  fails("guest symlink /mnt/evil -> /etc", "@R/plain", "/mnt/evil", CONFLICT, /symlink in the guest \(\/mnt\/evil leads to \/etc\)/),
  fails("guest path below a guest symlink to /etc", "@R/plain", "/mnt/evil/deeper/x", CONFLICT, /symlink/),
  fails("guest symlink to a harmless folder (the real path is named)", "@R/plain", "/mnt/evil2", CONFLICT, /leads to \/mnt\/realdir/),
  fails("guest path that is a file", "@R/plain", "/mnt/afile", CONFLICT, /not a folder/),
  fails("guest path that is already a mount point", "@R/plain", "/mnt/tmpfs", CONFLICT, /already a mount point/),
];

export interface OptionCase {
  name: string;
  args: string[];
  expect: ErrorCode | "commander";
  match?: RegExp;
}

const add = (...rest: string[]) => ["mount", "add", "hostile", "@R/plain", "/mnt/o", ...rest];
export const OPTION_CASES: OptionCase[] = [
  { name: "--type foo", args: add("--type", "foo"), expect: "USAGE", match: /unknown mount type/ },
  { name: "--type with ;touch", args: add("--type", "virtiofs;touch /tmp/hm-canary-host"), expect: "USAGE" },
  { name: "--type with $()", args: add("--type", "$(touch /tmp/hm-canary-host)"), expect: "USAGE" },
  { name: "--type with a comma option", args: add("--type", "9p,rw"), expect: "USAGE" },
  { name: "--type empty", args: add("--type", ""), expect: "USAGE" },
  { name: "--writable and --read-only together", args: add("--writable", "--read-only"), expect: "USAGE", match: /contradict/ },
  { name: "an unknown option", args: add("--evil"), expect: "commander" },
  { name: "a --tag option does not exist (tags are not user input)", args: add("--tag", "x".repeat(40)), expect: "commander" },
  { name: "an extra argument", args: add("$(touch /tmp/hm-canary-host)"), expect: "commander" },
  { name: "instance name ../hostile", args: ["mount", "add", "../hostile", "@R/plain", "/mnt/o"], expect: INV, match: /invalid instance name/ },
  { name: "instance name with a slash and ;touch", args: ["mount", "add", "x;touch /tmp/hm-canary-host", "@R/plain", "/mnt/o"], expect: INV },
  { name: "instance name with $()", args: ["mount", "add", "$(touch -- hm-canary-host)", "@R/plain", "/mnt/o"], expect: "INSTANCE_NOT_FOUND" },
  { name: "instance name empty", args: ["mount", "add", "", "@R/plain", "/mnt/o"], expect: INV },
  { name: "instance name with a newline", args: ["mount", "list", "hostile\nx"], expect: INV },
  { name: "remove: /etc is not found (not 'refusing to mount')", args: ["mount", "remove", "hostile", "/etc"], expect: "MOUNT_NOT_FOUND" },
  { name: "remove: $() target", args: ["mount", "remove", "hostile", "$(touch /tmp/hm-canary-guest)"], expect: "MOUNT_NOT_FOUND" },
  { name: "remove: ../../ target", args: ["mount", "remove", "hostile", "../../etc"], expect: "MOUNT_NOT_FOUND" },
  { name: "remove: target with a newline", args: ["mount", "remove", "hostile", "/mnt/a\nb"], expect: INV },
  { name: "remove: empty target", args: ["mount", "remove", "hostile", ""], expect: "USAGE" },
];

/** What fetch() takes as a body. */
export type Body = NonNullable<RequestInit["body"]>;

export interface ApiResult {
  status: number;
  text: string;
  json: any;
}

export interface RawCase {
  name: string;
  method: string;
  path: string;
  body?: Body | ((root: string) => Body);
  headers?: Record<string, string>;
  code?: ErrorCode;
  status?: number;
  match?: RegExp;
  check?: (r: ApiResult, api: (method: string, path: string) => Promise<ApiResult>) => void | Promise<void>;
}

const post = (name: string, body: RawCase["body"], match?: RegExp, code: ErrorCode = INV): RawCase => ({
  name,
  method: "POST",
  path: "/v1/mounts",
  body,
  code,
  match,
});
const j = (o: Record<string, unknown>) => (root: string) => JSON.stringify({ hostPath: `${root}/plain`, mountPoint: "/mnt/j", ...o });
const big = (bytes: number) => (root: string) => JSON.stringify({ hostPath: `${root}/plain`, pad: "x".repeat(bytes) });

export const RAW_CASES: RawCase[] = [
  post("type foo", j({ type: "foo" }), /type/),
  post("type is a number", j({ type: 5 }), /type/),
  post("type sshfs (a CLI alias, not an API value)", j({ type: "sshfs" }), /type/),
  post("type null", j({ type: null }), /type/),
  post("writable is a string", j({ writable: "true" }), /writable/),
  post("writable is 1", j({ writable: 1 }), /writable/),
  post("persist is a string", j({ persist: "yes" }), /persist/),
  post("hostPath is a number", () => JSON.stringify({ hostPath: 42 }), /hostPath/),
  post("hostPath is an array", () => JSON.stringify({ hostPath: ["/tmp"] }), /hostPath/),
  post("hostPath is null", () => JSON.stringify({ hostPath: null }), /hostPath/),
  post("hostPath is an object", () => JSON.stringify({ hostPath: {} }), /hostPath/),
  post("hostPath is 60000 characters", () => JSON.stringify({ hostPath: "/" + "a".repeat(60000) }), /hostPath/),
  post("mountPoint is a number", j({ mountPoint: 7 }), /mountPoint/),
  post("hostPath missing", "{}", /hostPath/),
  post("a tag field (tags are not user input)", j({ tag: "hm-" + "t".repeat(40) }), /Unrecognized key/),
  post("an extra field", j({ command: "touch /tmp/hm-canary-host" }), /Unrecognized key/),
  post("__proto__ key", (root) => `{"hostPath":"${root}/plain","__proto__":{"writable":true}}`, /Unrecognized key/),
  post(
    "duplicate keys: the last one (/etc) is the one checked",
    (root) => `{"hostPath":"${root}/plain","mountPoint":"/mnt/j","hostPath":"/etc"}`,
    /system folder \/etc/,
  ),
  post("body null", "null", /expected object/),
  post("body is an array", "[]", /expected object/),
  post("body is a string", '"touch /tmp/hm-canary-host"', /expected object/),
  post("body is a number", "123", /expected object/),
  post("body is 20000 nested arrays", "[".repeat(20000) + "]".repeat(20000)),
  post("body is not JSON", "{hostPath:", /not JSON/),
  post("body is empty", "", /not JSON/),
  // A UTF-8 BOM is skipped, as RFC 8259 allows: the request works, then is undone.
  {
    name: "body starting with a BOM works",
    method: "POST",
    path: "/v1/mounts",
    body: (root) => `\ufeff{"hostPath":"${root}/plain","mountPoint":"/mnt/bom"}`,
    status: 201,
    check: async (r, api) => {
      expect(r.json).toMatchObject({ mountPoint: "/mnt/bom", state: "ready" });
      expect((await api("DELETE", "/v1/mounts/%2Fmnt%2Fbom")).status).toBe(204);
    },
  },
  post(
    "body is not UTF-8",
    (root) => Buffer.concat([Buffer.from(`{"hostPath":"${root}/plain`), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]),
    /not valid UTF-8/,
  ),
  post("body just over 64 KiB", big(64 * 1024), /larger than 65536/),
  post("body of 8 MiB", big(8 << 20), /larger than 65536/),
  post(
    "body of 2 MiB, chunked (no length)",
    () =>
      new ReadableStream({
        start(c) {
          for (let i = 0; i < 32; i++) c.enqueue(new Uint8Array(65536).fill(32));
          c.close();
        },
      }),
    /larger than 65536/,
  ),
  { name: "PUT /v1/mounts", method: "PUT", path: "/v1/mounts", code: "USAGE", match: /PUT is not allowed/ },
  { name: "PATCH /v1/mounts/{id}", method: "PATCH", path: "/v1/mounts/hm00000000", code: "USAGE", match: /not allowed/ },
  { name: "GET /v1/mounts/{id}", method: "GET", path: "/v1/mounts/hm00000000", code: "USAGE", match: /not allowed/ },
  { name: "POST /v1/info", method: "POST", path: "/v1/info", code: "USAGE", match: /not allowed/ },
  { name: "OPTIONS /v1/mounts", method: "OPTIONS", path: "/v1/mounts", code: "USAGE" },
  { name: "DELETE /v1/vm/stop does not stop the VM", method: "DELETE", path: "/v1/vm/stop", code: "USAGE", match: /not allowed/ },
  { name: "GET an unknown endpoint", method: "GET", path: "/v1/nope", code: "USAGE", match: /no such endpoint/ },
  { name: "GET /v1/../../etc/passwd", method: "GET", path: "/v1/../../etc/passwd", code: "USAGE", match: /no such endpoint: GET \/etc\/passwd/ },
  {
    name: "GET an 8000-byte path: the message stays short",
    method: "GET",
    path: "/" + "a".repeat(8000),
    code: "USAGE",
    check: (r) => expect(r.json.message.length).toBeLessThan(200),
  },
  { name: "GET a 100 KB path: Bun's parser answers 431 before any of our code", method: "GET", path: "/" + "a".repeat(100_000), status: 431 },
  { name: "DELETE with no id", method: "DELETE", path: "/v1/mounts/", code: "USAGE", match: /no mount named/ },
  { name: "DELETE an unknown id", method: "DELETE", path: "/v1/mounts/hm00000000", code: "MOUNT_NOT_FOUND" },
  { name: "DELETE /etc (not found, not 'refusing to mount')", method: "DELETE", path: "/v1/mounts/%2Fetc", code: "MOUNT_NOT_FOUND" },
  { name: "DELETE ../../etc", method: "DELETE", path: "/v1/mounts/..%2F..%2Fetc", code: "MOUNT_NOT_FOUND" },
  { name: "DELETE *", method: "DELETE", path: "/v1/mounts/*", code: "MOUNT_NOT_FOUND" },
  { name: "DELETE a $() id", method: "DELETE", path: "/v1/mounts/%24(touch%20%2Ftmp%2Fhm-canary-guest)", code: "MOUNT_NOT_FOUND" },
  { name: "DELETE a bad percent-encoding", method: "DELETE", path: "/v1/mounts/%ff", code: INV, match: /percent-encoded/ },
  { name: "DELETE a truncated UTF-8 sequence", method: "DELETE", path: "/v1/mounts/%E0%A4%A", code: INV },
  { name: "DELETE an encoded lone surrogate", method: "DELETE", path: "/v1/mounts/%ED%A0%80", code: INV },
  { name: "DELETE an id with a newline", method: "DELETE", path: "/v1/mounts/a%0Ab", code: INV, match: /control character/ },
  { name: "DELETE an id with NUL", method: "DELETE", path: "/v1/mounts/a%00b", code: INV, match: /control character/ },
  { name: "DELETE a 5000-byte id", method: "DELETE", path: "/v1/mounts/" + "x".repeat(5000), code: INV, match: /longer than 4096/ },
  { name: "DELETE with force=evil", method: "DELETE", path: "/v1/mounts/hm00000000?force=evil", code: INV, match: /force must be/ },
  {
    name: "GET /v1/mounts ignores a hostile query",
    method: "GET",
    path: "/v1/mounts?x=$(touch%20/tmp/hm-canary-host)",
    status: 200,
    check: (r) => expect(r.json.mounts).toEqual([]),
  },
];
