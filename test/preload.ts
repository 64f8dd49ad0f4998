// Loaded before every test file (bunfig.toml). Tests get their own short HOTMOUNT_HOME (unix
// socket paths are limited to 107 bytes) and share the build cache, so the demo guest is built
// once per machine.
import { mkdtempSync } from "node:fs";

if (!process.env.HOTMOUNT_TEST_HOME) {
  process.env.HOTMOUNT_TEST_HOME = mkdtempSync("/tmp/hmt-");
}
process.env.HOTMOUNT_HOME = process.env.HOTMOUNT_TEST_HOME;
