// The HotmountError a call throws, so a test can check its code, message and hint one by one;
// any other throw is rethrown and no throw at all fails the test.
import { HotmountError } from "../../src/core/errors.ts";

export function hotmountErrorOf(f: () => unknown): HotmountError {
  try {
    f();
  } catch (e) {
    if (e instanceof HotmountError) return e;
    throw e;
  }
  throw new Error("expected a HotmountError");
}
