// Public face of the QMP client; import from "../qmp/index.ts", not from the files inside.
export { QmpClient, type ConnectOptions, type DisconnectCallback, type ExecuteOptions, type QmpGreeting } from "./client.ts";
export { EventListener, isDeviceDeleted, waitForEvent, type EventFilter, type EventSource, type QmpEvent, type WaitForEventOptions } from "./events.ts";
export { QmpConnectError, QmpDisconnectedError, QmpError, QmpExecuteError, QmpNegotiationError, QmpTimeoutError } from "./errors.ts";
export { LineDecoder, QmpTransport, encodeMessage, type QmpMessage, type Runstate, type TransportHandlers } from "./protocol.ts";
export * from "./commands.ts";
