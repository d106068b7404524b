import type { RecordKind } from '@vnf/protocol';

/**
 * What brokers sharing a Router tell each other about the endpoints they hold (docs/design.md, Routing and scale).
 * Sockets are named by their id (`<node>-<n>`, unique across the brokers): a socket id is also the incarnation of
 * an endpoint's connection, so a late `lost` from an old socket never closes the connection a reconnect reopened.
 */
export type BusMessage =
  /** `from` (socket `fromSocket` on `fromNode`) opens a connection to `to`, held by `toSocket` on the receiver. */
  | { t: 'open'; id: number; from: string; fromSocket: string; fromNode: string; to: string; toSocket: string }
  /** The answer to `open` `id`: accepted (`to` is now connected with `from`) or refused (no such endpoint there now). */
  | { t: 'opened' | 'refused'; id: number; fromSocket: string }
  /**
   * A relayed message from `from` (socket `fromSocket`) to the receiver's socket `toSocket`. `fanOut`: one delivery
   * of a group record, dropped if `toSocket` lags instead of holding the sender back.
   */
  | { t: 'record'; from: string; fromSocket: string; fromNode: string; toSocket: string; kind: RecordKind; payload: Uint8Array; fanOut?: true }
  /** The connection between `from` (socket `fromSocket`) and the receiver's socket `toSocket` is gone. */
  | { t: 'lost'; from: string; fromSocket: string; toSocket: string }
  /** Flow control: stop reading socket `socket` (it relays to `by`, above its high-water mark), or read it again. */
  | { t: 'hold' | 'release'; socket: string; by: string }
  /** A reconnect on another broker took socket `socket`'s eva over with its session token: close it, keep its entries. */
  | { t: 'takeover'; socket: string };

/** One broker's membership of a Bus. */
export interface BusMember {
  /** Sends `message` to broker `node`; messages from one member to another arrive in order. Unknown nodes drop it. */
  send(node: string, message: BusMessage): void;
  /** Leaves the bus: nothing more is delivered to this member. */
  leave(): void;
}

/**
 * The channel between brokers. MemoryBus joins brokers of one process (tests, and the seam a Redis bus implements);
 * each broker joins with its node id and a function that receives what the others send it.
 */
export interface Bus {
  join(node: string, receive: (message: BusMessage) => void): BusMember;
}
