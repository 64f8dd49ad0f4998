// Keys of the help overlay: any key closes it.
import { useInput } from "ink";

export function useHelpOverlay(onClose: () => void, isActive: boolean): void {
  useInput(() => onClose(), { isActive });
}
