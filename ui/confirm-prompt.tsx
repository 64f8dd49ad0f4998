// A yes/no question in a pane (used to confirm stopping a VM); its keys are in confirm-prompt-keys.ts.
import { Text } from "ink";
import { Pane } from "./pane.tsx";

export interface ConfirmPromptProps {
  title: string;
  lines: string[];
  width: number;
  height: number;
}

export function ConfirmPrompt({ title, lines, width, height }: ConfirmPromptProps) {
  return (
    <Pane title={title} focused accent="yellow" width={width} height={height}>
      {lines.map((l, i) => (
        <Text key={i} wrap="truncate-end">{` ${l}`}</Text>
      ))}
      <Text> </Text>
      <YesNo lead=" " />
    </Pane>
  );
}

/** The key hint every yes/no question ends with. */
export function YesNo({ lead }: { lead: string }) {
  return (
    <Text>
      {lead}
      <Text bold color="cyan">
        y
      </Text>
      {"/Enter yes  "}
      <Text bold color="cyan">
        n
      </Text>
      {"/Esc no"}
    </Text>
  );
}
