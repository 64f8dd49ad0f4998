import { test, expect } from "bun:test";
import { render } from "ink-testing-library";
import { Text, Box } from "ink";
test("smoke", async () => {
  const r = render(<Box borderStyle="round" width={20}><Text>hi</Text></Box>);
  expect(r.lastFrame()).toContain("hi");
  console.log(r.lastFrame());
});
