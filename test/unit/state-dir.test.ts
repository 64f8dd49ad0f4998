// The state-folder security check: a root, top folder or instance folder that another user could
// write to is refused on the first use of the state root in a process (here through the pure
// names of paths.ts), and `vm start`'s ensureHome checks again after creating the root.
import { afterAll, afterEach, expect, test } from "bun:test";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureHome } from "../../src/client/home.ts";
import { instancePaths, sshKeyPath } from "../../src/core/paths.ts";
import { hotmountErrorOf } from "../helpers/errors.ts";

const root = mkdtempSync(`${tmpdir()}/hmt-state-`);
const savedHome = process.env.HOTMOUNT_HOME;
afterEach(() => {
  if (savedHome === undefined) delete process.env.HOTMOUNT_HOME;
  else process.env.HOTMOUNT_HOME = savedHome;
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
/** A fresh private root each time: the check runs once per root per process. */
function freshHome(): string {
  const home = join(root, `home${n++}`);
  mkdirSync(join(home, "instances", "dev"), { recursive: true, mode: 0o700 });
  mkdirSync(join(home, "ssh"), { mode: 0o700 });
  chmodSync(home, 0o700);
  process.env.HOTMOUNT_HOME = home;
  return home;
}

test("a private root is accepted and named", () => {
  const home = freshHome();
  expect(instancePaths("dev").agentSock).toBe(join(home, "instances", "dev", "agent.sock"));
});

test("a group-writable root is refused on the first name under it", () => {
  const home = freshHome();
  chmodSync(home, 0o770);
  const e = hotmountErrorOf(() => instancePaths("dev"));
  expect(e.code).toBe("PERMISSION_DENIED");
  expect(e.message).toBe(`hotmount's state folder ${home} is writable by its group (mode 770)`);
  expect(e.hint).toBe(`Run: chmod go-w ${home}`);
});

test("a world-writable instance folder is refused", () => {
  const home = freshHome();
  const dir = join(home, "instances", "dev");
  chmodSync(dir, 0o777);
  const e = hotmountErrorOf(() => sshKeyPath());
  expect(e.message).toBe(`hotmount's state folder ${dir} is writable by everyone (mode 777)`);
});

test("a symlinked top folder is refused; a symlinked root is followed and its target checked", () => {
  const home = freshHome();
  rmSync(join(home, "ssh"), { recursive: true });
  symlinkSync(tmpdir(), join(home, "ssh"));
  const e = hotmountErrorOf(() => instancePaths("dev"));
  expect(e.message).toBe(`hotmount's state folder ${join(home, "ssh")} is a symlink`);
  expect(e.hint).toBe(`hotmount makes its folders itself: remove the link (rm ${join(home, "ssh")}) or replace it with a real folder.`);

  const target = freshHome();
  const link = join(root, `link${n}`);
  symlinkSync(target, link);
  process.env.HOTMOUNT_HOME = link;
  expect(instancePaths("dev").dir).toBe(join(link, "instances", "dev"));
});

test.skipIf(process.getuid?.() !== 0)("a root owned by another user is refused", () => {
  const home = freshHome();
  chownSync(home, 4242, 4242);
  const e = hotmountErrorOf(() => instancePaths("dev"));
  expect(e.message).toBe(`hotmount's state folder ${home} belongs to uid 4242, not to you (uid 0)`);
  expect(e.hint).toBe(`Use your own HOTMOUNT_HOME, or take it over: chown -R 0 ${home}`);
});

test("a root that does not exist yet passes, and ensureHome checks what it finds after mkdir", () => {
  const home = join(root, `later${n++}`);
  process.env.HOTMOUNT_HOME = home;
  expect(instancePaths("dev").dir).toBe(join(home, "instances", "dev"));
  // Made by someone else between the first use and `vm start`'s mkdir (mkdir keeps its mode).
  mkdirSync(home, { mode: 0o777 });
  chmodSync(home, 0o777);
  expect(hotmountErrorOf(() => ensureHome()).hint).toBe(`Run: chmod go-w ${home}`);
  chmodSync(home, 0o700);
  ensureHome();
});
