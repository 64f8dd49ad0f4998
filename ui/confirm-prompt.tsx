// A yes/no question in a pane (used to confirm stopping a VM); its keys are in confirm-prompt-keys.ts.
import { Text } from "ink";
import { Pane } from "./pane.tsx";
import { keyNames } from "./keymap.ts";

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
      <YesNo lead=" " yes={keyNames("stop", "stop")} no={keyNames("stop", "cancel")} />
    </Pane>
  );
}

/** The key hint every yes/no question ends with: the first key bold, its alternatives after a slash. */
export function YesNo({ lead, yes, no }: { lead: string; yes: string[]; no: string[] }) {
  const [yesKey, ...yesMore] = yes;
  const [noKey, ...noMore] = no;
  return (
    <Text>
      {lead}
      <Text bold color="cyan">
        {yesKey}
      </Text>
      {`${yesMore.map((k) => `/${k}`).join("")} yes  `}
      <Text bold color="cyan">
        {noKey}
      </Text>
      {`${noMore.map((k) => `/${k}`).join("")} no`}
    </Text>
  );
}
