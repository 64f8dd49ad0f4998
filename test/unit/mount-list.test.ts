// `hotmount mount list`'s warning lines (src/cli/commands/mount.ts): each on a line of its own,
// one line per distinct warning naming every mount it is about; the table itself is output.ts's.
import { expect, test } from "bun:test";
import { watchWarningLines } from "../../src/cli/commands/mount.ts";

test("one line per distinct warning, naming its mounts; no line breaks inside", () => {
  const ssh = "host changes are not replayed in the guest: no SSH login.\nSet one: `hotmount libvirt ssh d -u USER -i KEY`.";
  const lines = watchWarningLines([
    { id: "hm1", mountPoint: "/mnt/a", watchWarning: ssh },
    { id: "hm2", mountPoint: "/mnt/b" },
    { id: "hm3", mountPoint: "/mnt/c", watchWarning: ssh },
    { id: "hm4", mountPoint: "/mnt/d", watchWarning: "watching 6 of 9 folders" },
  ]);
  expect(lines).toEqual([
    "warning: hm1 (/mnt/a), hm3 (/mnt/c): host changes are not replayed in the guest: no SSH login. Set one: `hotmount libvirt ssh d -u USER -i KEY`.",
    "warning: hm4 (/mnt/d): watching 6 of 9 folders",
  ]);
  expect(watchWarningLines([{ id: "hm2", mountPoint: "/mnt/b" }])).toEqual([]);
});
