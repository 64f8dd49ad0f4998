// The one error class of hotmount. Every failure a user can meet is a HotmountError with a
// stable code, a one-line message, a hint that says what to do, and the underlying cause.
// Codes become exit codes and HTTP statuses in exactly one place: the table below.

// prettier-ignore
export const ERROR_CODES = {
  //  code                      exit  http  (exit codes are part of the embedding contract)
  INTERNAL:                    [1,   500],
  USAGE:                       [2,   400],
  INVALID_ARGUMENT:            [2,   400],
  INSTANCE_NOT_FOUND:          [3,   404],
  MOUNT_NOT_FOUND:             [3,   404],
  INSTANCE_NOT_RUNNING:        [4,   409],
  INSTANCE_ALREADY_RUNNING:    [5,   409],
  MOUNT_CONFLICT:              [6,   409],
  NO_FREE_SLOT:                [7,   409],
  UNSUPPORTED:                 [8,   422],
  MOUNT_BUSY:                  [9,   409],
  HOST_DEPENDENCY_MISSING:     [10,  424],
  GUEST_COMMAND_FAILED:        [11,  502],
  VM_START_FAILED:             [12,  500],
  QMP_CONNECT:                 [13,  502],
  QMP_NEGOTIATION:             [13,  502],
  QMP_EXECUTE:                 [13,  502],
  QMP_DISCONNECTED:            [13,  502],
  TIMEOUT:                     [14,  504],
  AGENT_UNREACHABLE:           [15,  503],
  PERMISSION_DENIED:           [16,  403],
  SSH_FAILED:                  [17,  502],
  MOUNT_BROKEN:                [18,  502],  // a mount that was ready and is no longer (device gone, SSH lost)
  VERSION_MISMATCH:            [19,  409],  // an agent or journal from a newer hotmount (src/core/versions.ts)
} as const satisfies Record<string, readonly [number, number]>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface ErrorJson {
  code: ErrorCode;
  message: string;
  hint?: string;
  details?: Record<string, unknown>;
}

export interface ErrorOptions {
  hint?: string;
  cause?: unknown;
  details?: Record<string, unknown>;
}

export class HotmountError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, opts: ErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "HotmountError";
    this.code = code;
    this.hint = opts.hint;
    this.details = opts.details;
  }

  get exitCode(): number {
    return ERROR_CODES[this.code][0];
  }

  get httpStatus(): number {
    return ERROR_CODES[this.code][1];
  }

  toJSON(): ErrorJson {
    const j: ErrorJson = { code: this.code, message: this.message };
    if (this.hint) j.hint = this.hint;
    if (this.details) j.details = this.details;
    return j;
  }

  /** Rebuilds the typed error on the client side of the agent API. */
  static fromJSON(j: ErrorJson): HotmountError {
    const code = (j.code in ERROR_CODES ? j.code : "INTERNAL") as ErrorCode;
    return new HotmountError(code, j.message, { hint: j.hint, details: j.details });
  }
}

/** Wraps anything thrown into a HotmountError, keeping typed ones as they are. */
export function asHotmountError(e: unknown): HotmountError {
  if (e instanceof HotmountError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new HotmountError("INTERNAL", msg, { cause: e, hint: "This is a bug in hotmount; please report it with the agent log." });
}

export function isCode(e: unknown, ...codes: ErrorCode[]): e is HotmountError {
  return e instanceof HotmountError && codes.includes(e.code);
}
