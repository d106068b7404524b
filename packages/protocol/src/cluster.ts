/*
 * The cluster's seams (docs/design.md, Routing and scale): what brokers sharing one routing table say to each other
 * (BusMessage) and the two interfaces a cluster implements — in memory by @vnf/broker (MemoryRouter, MemoryBus),
 * on Redis by @vnf/broker-redis. Types only: kept here, beside the client wire format, so that the broker and a
 * cluster package share them without depending on each other.
 */
import type { RecordKind } from './constants';
import type { Role } from './messages';


/** Who holds an eva: a socket (by id) and the session token that lets a reconnect of it take over. */
export interface RouteHolder {
  /** The holding socket's id, unique across the brokers sharing the router (also its connections' incarnation). */
  id: string;
  /** The node id of the broker holding the socket (where the Bus delivers to it). */
  node: string;
  session: string;
}

/** A claim to renew: the eva in a role, as held by socket `id`. */
export interface RenewedClaim {
  role: Role;
  eva: string;
  id: string;
}

export type ClaimResult =
  | { outcome: 'claimed'; session: string }
  | { outcome: 'replaced'; session: string; previous: RouteHolder }
  | { outcome: 'in-use' };

/**
 * Which eva is on which socket (docs/design.md, Routing and scale). Asynchronous so that a Redis-backed router can replace
 * MemoryRouter without touching the wire protocol. Each role (endpoint, rpc) has its own holder, but one session
 * speaks for an eva: while one role holds it, a claim of the other role needs that holder's session token (and
 * then shares that session), so an rpc socket cannot act as the registry owner of someone else's endpoint, in
 * either arrival order. A holder stays until released: the broker releases an uncleanly dropped socket's eva
 * only when its grace period ends, so during it the eva is reserved for its session token.
 */
export interface Router {
  /**
   * Gives `eva` in `role` to `holder` unless another holder has it, or the other role holds it and `proof` is not
   * that holder's session token. With `proof` equal to the current holder's session token the new holder takes
   * over (keeping that session token) and the previous one is returned.
   */
  claim(role: Role, eva: string, holder: RouteHolder, proof: string | undefined, ttlMs?: number): Promise<ClaimResult>;
  /** The current holder of `eva`, if any. */
  lookup(role: Role, eva: string): Promise<RouteHolder | undefined>;
  /** Frees `eva` if `holderId` still holds it (a socket that was taken over frees nothing). */
  release(role: Role, eva: string, holderId: string): Promise<void>;
  /**
   * Extends the claims of these holders by `ttlMs` from now (a claim given a TTL and not renewed in time is gone, as
   * if released: the broker holding it died). Claims another holder took over are left alone.
   */
  renew(claims: readonly RenewedClaim[], ttlMs: number): Promise<void>;
  /** Resolves when the shared storage beneath answers, rejects when it does not (the broker's readiness); a router of one process needs none. */
  ping?(): Promise<void>;
}


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
  /** `bytes` of what socket `socket` relayed to `by` were queued toward `by`: they are no longer in flight (the sender's window). */
  | { t: 'ack'; socket: string; by: string; bytes: number }
  /** A reconnect on another broker took socket `socket`'s eva over with its session token: close it, keep its entries. */
  | { t: 'takeover'; socket: string }
  /**
   * Said by the bus itself, never by a broker: broker `node` is gone (its lease ran out, or the bus lost what was
   * in flight to and from it), so every connection with a socket of it is lost.
   */
  | { t: 'down'; node: string };

/** One broker's membership of a Bus. */
export interface BusMember {
  /** Sends `message` to broker `node`; messages from one member to another arrive in order. Unknown nodes drop it. */
  send(node: string, message: BusMessage): void;
  /** Leaves the bus: nothing more is delivered to this member; the others are told it is `down`. */
  leave(): void;
}

/**
 * The channel between brokers. MemoryBus joins brokers of one process (tests, and the seam a Redis bus implements);
 * each broker joins with its node id and a function that receives what the others send it.
 */
export interface Bus {
  join(node: string, receive: (message: BusMessage) => void): BusMember;
}
