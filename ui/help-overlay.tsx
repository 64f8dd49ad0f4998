// The help overlay (?): every advertised key, grouped, from the key table the footer and the
// router use. It has no state of its own, so no reducer; its one key (any key closes it) is in the
// table too.
import { Box, Text } from "ink";
import { fit } from "./format.ts";
import { helpSections, keysFor } from "./keymap.ts";
import { Pane } from "./pane.tsx";

export function HelpOverlay({ width, height }: { width: number; height: number }) {
  const sections = helpSections();
  const inner = width - 2;
  // Two columns of sections when there is room, one otherwise.
  const twoCols = inner >= 77;
  const colW = twoCols ? Math.floor((inner - 1) / 2) : inner;
  const keyW = 14;
  const half = Math.ceil(sections.length / 2);
  const cols = twoCols ? [sections.slice(0, half), sections.slice(half)] : [sections];
  return (
    <Pane title="Help · hotmount" focused width={width} height={height}>
      <Box flexDirection="row">
        {cols.map((sections, ci) => (
          <Box key={ci} flexDirection="column" width={colW} marginRight={ci === 0 && twoCols ? 1 : 0}>
            {sections.map((sec) => (
              <Box key={sec.title} flexDirection="column" marginBottom={1}>
                <Text bold>{` ${sec.title}`}</Text>
                {sec.keys.map((k) => (
                  <Text key={k.keys} wrap="truncate-end">
                    {"  "}
                    <Text color="cyan">{fit(k.keys, keyW)}</Text>
                    {k.label}
                  </Text>
                ))}
              </Box>
            ))}
          </Box>
        ))}
      </Box>
      <Text dimColor wrap="truncate-end">
        {` hotmount mounts host folders into running VMs. Press ${keysFor("help", "close")} to close.`}
      </Text>
    </Pane>
  );
}
