import type { ConnectionStatus } from './status';
import type { EventEmitter } from 'eventemitter3';
import type { VnfError } from './errors';

/** Result of `openConnection`: delivered once to the callback and once as the promise's value. */
export interface ConnectionEvent {
  status: ConnectionStatus;
  targetEva: string;
  /** Why the connection is not CONNECTED: an ErrorCode such as NOT_FOUND, TIMEOUT, UNAVAILABLE, DESTROYED. */
  reason?: string;
}

/** A message as the application sees it. `message` is a Payload on wire hubs, any JSON value over a MarshallerHub. */
export interface MessageEvent<M = unknown> {
  sourceEva: string;
  message: M;
}

/** The events every endpoint emits (eventemitter3). This set is small and stable. */
export interface EndpointEvents {
  /** A message arrived on an open connection. */
  message: (event: MessageEvent) => void;
  /** A connection is now open, opened by either side (for the target it is the implicit accept). */
  connection: (peerEva: string) => void;
  /** An open connection ended on the peer's side, or its transport could not be kept. Fires once per connection. */
  connectionLost: (peerEva: string) => void;
  /** The transport beneath the endpoint came back (after `offline`). */
  online: () => void;
  /** The transport beneath the endpoint dropped; the endpoint is trying to restore it. */
  offline: () => void;
  /**
   * Once `bufferedAmount(peerEva)` passed the hub's `highWaterMark`, fires once when it falls to at most its
   * `lowWaterMark` (docs/design.md, Backpressure). Not before the buffer passed the high mark, never twice for one
   * crossing; a lost connection owes nothing.
   */
  drain: (peerEva: string) => void;
  /** An asynchronous failure: never thrown into a caller's stack from a timer. */
  error: (error: VnfError) => void;
}

/** A named mailbox, and a typed event emitter of EndpointEvents. Every hub's endpoints keep the same contract (docs/design.md, The contract). */
export interface Endpoint extends EventEmitter<EndpointEvents> {
  readonly eva: string;
  /** Assignable message handler, as in the seed. Also emitted as the `message` event. */
  onMessage: ((event: MessageEvent<any>) => void) | null;
  /** Registers a listener for lost connections (the `connectionLost` event). */
  onConnectionLost(listener: (targetEva: string) => void): void;
  /** Opens a connection; resolves and calls `cb` exactly once, never rejects for network reasons. */
  openConnection(targetEva: string, cb?: (event: ConnectionEvent) => void): Promise<ConnectionEvent>;
  /** Sends on an open connection; throws NOT_CONNECTED, INVALID_PAYLOAD or TOO_LARGE at the call. */
  send(targetEva: string, message: any): void;
  /**
   * Sends one message to each of `targets` this endpoint is connected to now (docs/design.md, Multicast). Through
   * the broker it leaves once and the broker fans it out. Best effort per target, never blocking: a target that is
   * not connected is skipped, and one that reads too slowly may miss it (the layer or the broker drops it for that
   * target rather than pause the others). The transport never delivers it twice to a target; each delivery is an
   * ordinary `message` with `sourceEva` stamped as for `send`. Throws at the call what `send` throws for the payload
   * (INVALID_PAYLOAD, TOO_LARGE), INVALID_ARGUMENT when `targets` is not an array of evas, and DESTROYED.
   */
  multicast(targets: readonly string[], message: any): void;
  /** Closes a connection; the peer gets `connectionLost` once. A no-op when not connected. */
  closeConnection(targetEva: string): void;
  /** Closes every connection (peers get `connectionLost`) and releases every resource. Idempotent. */
  destroy(): void;
  /** True once destroyed. */
  readonly destroyed: boolean;
  /** The evas this endpoint is connected to now. */
  connections(): string[];
  /** True when a connection to `eva` is open. */
  isConnected(eva: string): boolean;
  /**
   * Bytes accepted by `send` toward `targetEva` and not yet handed to the network, this layer and those
   * beneath it (0 when nothing is queued or the layer cannot tell). Senders of bulk data pace on it and `drain`.
   */
  bufferedAmount(targetEva: string): number;
}

/** Opens endpoints. Hubs stack as decorators: `new MarshallerHub(new ReliableHub(new WebSocketHub(factory)))`. */
export interface Hub<E extends Endpoint = Endpoint> {
  /** Opens an endpoint; throws EVA_IN_USE if the eva is already open in this hub. */
  openEndpoint(eva: string): E;
  /** Destroys every endpoint this hub opened and releases the hub's resources (and its inner hub's). */
  close(): Promise<void>;
  /** The largest single message this hub's endpoints carry, in bytes (Infinity when unbounded). */
  readonly maxPayloadSize: number;
  /** `bufferedAmount` past which an endpoint owes a `drain` (Infinity: this hub never emits `drain`). */
  readonly highWaterMark: number;
  /** `bufferedAmount` at or below which an owed `drain` fires; below `highWaterMark`. */
  readonly lowWaterMark: number;
}

/**
 * A named channel beside the app's messages on one endpoint (docs/design.md, Sub-protocols): rooms, encryption,
 * services and streams each speak on their own, and the app's `onMessage` never sees their frames.
 */
export interface SubProtocolChannel {
  readonly name: string;
  /** Messages of this sub-protocol from connected peers (`sourceEva` stamped by the transport). */
  onMessage: ((event: MessageEvent<any>) => void) | null;
  /** Sends on the endpoint's open connection to `targetEva`; throws at the call as `Endpoint.send` does. */
  send(targetEva: string, message: unknown): void;
  /** `Endpoint.multicast` on this channel: one message to each connected target, best effort per target. */
  multicast(targets: readonly string[], message: unknown): void;
  /** Stops this sub-protocol here; its name may be opened again. */
  close(): void;
  /** The largest string or binary `send` carries on this channel, in bytes (the endpoint's limit minus its framing). */
  readonly maxPayloadSize: number;
  /** The hub's `highWaterMark` beneath: past it, `bufferedAmount` owes a `drain` (Infinity: never). */
  readonly highWaterMark: number;
  /** The endpoint's `bufferedAmount(targetEva)`, shared with the app and every sub-protocol. */
  bufferedAmount(targetEva: string): number;
  /** The endpoint's `isConnected(eva)`. */
  isConnected(eva: string): boolean;
  on(event: 'connection' | 'connectionLost' | 'drain', listener: (peerEva: string) => void): unknown;
  off(event: 'connection' | 'connectionLost' | 'drain', listener: (peerEva: string) => void): unknown;
}

/** An endpoint that carries named sub-protocols beside the app's messages (MultiplexHub's). */
export interface MultiplexingEndpoint extends Endpoint {
  /** The channel of sub-protocol `name`; one per name while open (INVALID_ARGUMENT for a second). */
  subProtocol(name: string): SubProtocolChannel;
}
