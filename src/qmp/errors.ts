// The QMP error tree. Everything the QMP client throws is a QmpError, and therefore a
// HotmountError with a stable code, a one-line message and a hint that says what to do.
import { HotmountError, type ErrorCode, type ErrorOptions } from "../core/errors.ts";

/** Base of every QMP failure, so callers can `instanceof QmpError` without listing subclasses. */
export class QmpError extends HotmountError {
  constructor(code: ErrorCode, message: string, opts: ErrorOptions = {}) {
    super(code, oneLine(message), opts);
    this.name = "QmpError";
  }
}

/** The socket could not be opened: QEMU is not running, or was started without this -qmp path. */
export class QmpConnectError extends QmpError {
  readonly socketPath: string;
  constructor(socketPath: string, cause: unknown) {
    const errno = (cause as { code?: string } | undefined)?.code;
    const why =
      errno === "ENOENT"
        ? "no such socket"
        : errno === "ECONNREFUSED"
          ? "nobody is listening on it"
          : errno === "EACCES"
            ? "permission denied"
            : cause instanceof Error
              ? cause.message
              : String(cause);
    super("QMP_CONNECT", `cannot connect to the QMP socket ${socketPath}: ${why}`, {
      cause,
      hint:
        errno === "EACCES"
          ? "Run hotmount as the user that started QEMU, or fix the socket's permissions."
          : "Check that the VM is running and was started with -qmp unix:<this path>,server=on,wait=off.",
      details: { socketPath, errno },
    });
    this.name = "QmpConnectError";
    this.socketPath = socketPath;
  }
}

/** The greeting or the qmp_capabilities handshake went wrong. */
export class QmpNegotiationError extends QmpError {
  constructor(message: string, opts: ErrorOptions = {}) {
    super("QMP_NEGOTIATION", message, {
      hint: "Make sure the socket is a QMP monitor (-qmp, not -monitor) of QEMU 7.2 or newer.",
      ...opts,
    });
    this.name = "QmpNegotiationError";
  }
}

/** QEMU answered a command with {"error": {"class", "desc"}}. */
export class QmpExecuteError extends QmpError {
  /** QAPI error class: "GenericError", "DeviceNotFound", "CommandNotFound", ... */
  readonly errorClass: string;
  readonly desc: string;
  readonly command: string;
  constructor(command: string, errorClass: string, desc: string, args?: unknown) {
    super("QMP_EXECUTE", `QEMU refused ${command}: ${desc}`, {
      hint: hintFor(errorClass),
      details: { command, errorClass, desc, ...(args === undefined ? {} : { arguments: args }) },
    });
    this.name = "QmpExecuteError";
    this.errorClass = errorClass;
    this.desc = desc;
    this.command = command;
  }
}

/** The connection went away; every pending call and listener gets one of these. */
export class QmpDisconnectedError extends QmpError {
  constructor(message = "the QMP connection to QEMU was closed", opts: ErrorOptions = {}) {
    super("QMP_DISCONNECTED", message, {
      hint: "QEMU may have exited or crashed; check the VM's log, then reconnect.",
      ...opts,
    });
    this.name = "QmpDisconnectedError";
  }
}

/** A wait exceeded its budget: connect, greeting, a reply, or an event. */
export class QmpTimeoutError extends QmpError {
  readonly timeoutMs: number;
  constructor(what: string, timeoutMs: number, hint?: string) {
    super("TIMEOUT", `timed out after ${timeoutMs} ms waiting for ${what}`, {
      hint: hint ?? "QEMU may be stuck or overloaded; retry with a longer timeout or check the VM.",
      details: { timeoutMs, waitingFor: what },
    });
    this.name = "QmpTimeoutError";
    this.timeoutMs = timeoutMs;
  }
}

function hintFor(errorClass: string): string {
  switch (errorClass) {
    case "DeviceNotFound":
      return "The device id does not exist in this VM; list devices with query-pci or qom-list.";
    case "CommandNotFound":
      return "This QEMU does not know the command; upgrade QEMU or check its spelling.";
    case "DeviceNotActive":
      return "The device is not active yet; retry once the guest has finished with it.";
    case "KVMMissingCap":
      return "The host kernel lacks a KVM capability this needs; try TCG or a newer kernel.";
    default:
      return "Read QEMU's description above; fix the arguments or the VM's state and retry.";
  }
}

/** Messages are one line: QEMU descs occasionally carry newlines. */
function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, " ").trim();
}
