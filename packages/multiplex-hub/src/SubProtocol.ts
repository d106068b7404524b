import type { SubProtocolChannel } from '@vnf/core';
import { EventEmitter } from 'eventemitter3';
import { VnfError } from '@vnf/core';
import type { MessageEvent } from '@vnf/core';

/** The events of a sub-protocol (eventemitter3). Each listener runs through `callUserListener`, as the endpoint's do. */
export interface SubProtocolEvents {
  /** A message of this sub-protocol arrived; `sourceEva` is the one the transport stamped. */
  message: (event: MessageEvent) => void;
  /** A connection of the endpoint opened (by either side), after the endpoint's own `connection` event. */
  connection: (peerEva: string) => void;
  /** A connection of the endpoint was lost, after the endpoint's own `connectionLost` event. */
  connectionLost: (peerEva: string) => void;
  /** The endpoint's send buffer toward `peerEva` drained (the buffer is shared with the app and every sub-protocol). */
  drain: (peerEva: string) => void;
  /** The sub-protocol was closed (`close()`, or its endpoint destroyed). Fires once. */
  close: () => void;
}

/** What a sub-protocol needs of its endpoint: the endpoint passes closures over its own private state. */
export interface SubProtocolHost {
  readonly eva: string;
  readonly maxPayloadSize: number;
  readonly highWaterMark: number;
  send(targetEva: string, message: unknown): void;
  multicast(targets: readonly string[], message: unknown): void;
  bufferedAmount(targetEva: string): number;
  isConnected(eva: string): boolean;
  connections(): string[];
  /** Runs user code: what it throws becomes an `error` event of the endpoint. */
  guard(fn: () => void): void;
  /** The sub-protocol closed: stop routing to it. */
  release(): void;
}

/**
 * One named channel of a MultiplexEndpoint, sharing its connections with the app: `endpoint.subProtocol('ping')`.
 * Its messages never reach the app's `onMessage`, and the app's never reach it.
 */
export class SubProtocol extends EventEmitter<SubProtocolEvents> implements SubProtocolChannel {
  /** Assignable message handler, as on the endpoint. Also emitted as the `message` event. */
  onMessage: ((event: MessageEvent<any>) => void) | null = null;
  private isClosed = false;

  /** Not for applications: call `endpoint.subProtocol(name)`. */
  constructor(
    readonly name: string,
    private readonly host: SubProtocolHost,
  ) {
    super();
    this.send = this.send.bind(this);
    this.multicast = this.multicast.bind(this);
    this.close = this.close.bind(this);
    this.bufferedAmount = this.bufferedAmount.bind(this);
    this.isConnected = this.isConnected.bind(this);
    this.connections = this.connections.bind(this);
  }

  /** The eva of the endpoint this sub-protocol belongs to. */
  get eva(): string {
    return this.host.eva;
  }

  /** True once closed, by `close()` or by the endpoint's `destroy()`. */
  get closed(): boolean {
    return this.isClosed;
  }

  /** The largest string or binary `send` accepts here, in bytes: the endpoint's limit minus this name's header. */
  get maxPayloadSize(): number {
    return this.host.maxPayloadSize;
  }

  /** The hub's `highWaterMark`: a send that leaves `bufferedAmount` past it owes a `drain` (Infinity: never). */
  get highWaterMark(): number {
    return this.host.highWaterMark;
  }

  /**
   * Sends on the endpoint's open connection to `targetEva`. Throws at the call what `endpoint.send` throws
   * (NOT_CONNECTED, INVALID_PAYLOAD, TOO_LARGE, BUFFER_FULL from a layer beneath), and DESTROYED once closed.
   */
  send(targetEva: string, message: unknown): void {
    this.assertOpen('send');
    this.host.send(targetEva, message);
  }

  /**
   * `endpoint.multicast` on this channel: the message once to each connected target (skipping the others), fanned
   * out by the broker where the stack allows. Best effort per target; throws at the call as `send` does for the
   * payload, and DESTROYED once closed.
   */
  multicast(targets: readonly string[], message: unknown): void {
    this.assertOpen('multicast');
    this.host.multicast(targets, message);
  }

  /** The endpoint's `bufferedAmount(targetEva)`: app and sub-protocols share one buffer per connection. */
  bufferedAmount(targetEva: string): number {
    this.assertOpen('bufferedAmount');
    return this.host.bufferedAmount(targetEva);
  }

  /** The endpoint's `isConnected(eva)`. */
  isConnected(eva: string): boolean {
    this.assertOpen('isConnected');
    return this.host.isConnected(eva);
  }

  /** The endpoint's `connections()`. */
  connections(): string[] {
    this.assertOpen('connections');
    return this.host.connections();
  }

  /**
   * Stops delivery to this sub-protocol and frees its name (open it again with `endpoint.subProtocol(name)`).
   * The peer is not told: what it sends on this name from now on is dropped here. Idempotent.
   */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.host.release();
    if (this.listenerCount('close') > 0) this.host.guard(() => this.emit('close'));
    this.removeAllListeners();
    this.onMessage = null;
  }

  private assertOpen(operation: string): void {
    if (this.isClosed) {
      throw new VnfError(
        'DESTROYED',
        `Cannot call ${operation}: sub-protocol ${JSON.stringify(this.name)} of endpoint ${this.host.eva} was closed. ` +
          `Open it again with endpoint.subProtocol(${JSON.stringify(this.name)}).`,
        { details: { eva: this.host.eva, subProtocol: this.name } },
      );
    }
  }
}

/** Hands a received message to a sub-protocol's handler and listeners, each through the endpoint's guard. */
export function deliverTo(channel: SubProtocol, event: MessageEvent, guard: (fn: () => void) => void): void {
  const handler = channel.onMessage;
  if (handler) guard(() => handler(event));
  if (channel.listenerCount('message') > 0) guard(() => channel.emit('message', event));
}

/** Relays one of the endpoint's connection events to a sub-protocol's listeners, through the endpoint's guard. */
export function relayTo(
  channel: SubProtocol,
  event: 'connection' | 'connectionLost' | 'drain',
  peerEva: string,
  guard: (fn: () => void) => void,
): void {
  if (channel.listenerCount(event) > 0) guard(() => channel.emit(event, peerEva));
}
