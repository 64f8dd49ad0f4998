// The help overlay (?): every key, grouped, from the same keymap the footer uses. It has no
// state of its own, so no reducer, and one key rule (any key closes it) that the router applies.
import { Box, Text } from "ink";
import { fit } from "./format.ts";
import { HELP_SECTIONS } from "./keymap.ts";
import { Pane } from "./pane.tsx";

export function HelpOverlay({ width, height }: { width: number; height: number }) {
  const inner = width - 2;
  // Two columns of sections when there is room, one otherwise.
  const twoCols = inner >= 77;
  const colW = twoCols ? Math.floor((inner - 1) / 2) : inner;
  const keyW = 14;
  const half = Math.ceil(HELP_SECTIONS.length / 2);
  const cols = twoCols ? [HELP_SECTIONS.slice(0, half), HELP_SECTIONS.slice(half)] : [HELP_SECTIONS];
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
        {" hotmount mounts host folders into running VMs. Press any key to close."}
      </Text>
    </Pane>
  );
}
