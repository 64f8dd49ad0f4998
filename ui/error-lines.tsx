// A failure as the TUI shows it in a pane: @inkjs/ui's StatusMessage (error) with the message,
// and the hint dimmed under it. `wrap` false keeps each to one line (fixed-height areas).
import { StatusMessage } from "@inkjs/ui";
import { Box, Text } from "ink";
import { truncate } from "./format.ts";
import type { ErrorView } from "./error-view.ts";

export function ErrorLines({ error, width, wrap = true }: { error: ErrorView; width: number; wrap?: boolean }) {
  const fit = (s: string) => (wrap ? s : truncate(s, width - 4));
  return (
    <>
      <Box paddingLeft={1}>
        <StatusMessage variant="error">{fit(error.message)}</StatusMessage>
      </Box>
      {error.hint ? (
        <Text dimColor wrap={wrap ? "wrap" : "truncate-end"}>
          {`   ${fit(error.hint)}`}
        </Text>
      ) : null}
    </>
  );
}
