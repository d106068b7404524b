import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import type { RegistrySession } from '@vnf/registry';
import type { Role } from '@vnf/protocol';
import { OutboundQueue } from './outbound';

/** `hello`: waiting for the hello; `claiming`: authenticating and claiming the eva; `ready`: registered. */
export type ConnectionState = 'hello' | 'claiming' | 'ready' | 'closed';

/** The broker's state for one socket. */
export class ClientConnection {
  state: ConnectionState = 'hello';
  role: Role = 'endpoint';
  eva = '';
  /** The eva in UTF-8, stamped as the source of every message this socket sends. */
  evaBytes: Uint8Array = new Uint8Array(0);
  /** Evas this endpoint has an open connection with (kept symmetric by the broker). */
  readonly peers = new Set<string>();
  readonly outbound = new OutboundQueue();
  registry: RegistrySession | null = null;
  /** Cleared by each heartbeat, set by any pong or frame. */
  alive = true;
  helloTimer: ReturnType<typeof setTimeout> | null = null;
  /** Sockets whose reading is paused because they relay to this one while it is above the high-water mark. */
  readonly heldSenders = new Set<ClientConnection>();
  /** Targets holding this socket's reading paused; it reads again when none is left. */
  readonly heldBy = new Set<ClientConnection>();
  /** While this socket is not read because its client spent a control budget: ends the pause. */
  pacingTimer: ReturnType<typeof setTimeout> | null = null;
  /** Frames waiting for the client's control budget, the first one partly read (FrameIntake). */
  paced: PacedFrame[] | null = null;
  /** Peers of this endpoint held by other brokers: their node and socket (the connection's incarnation). */
  readonly remotes = new Map<string, { node: string; socket: string }>();
  /** Sockets on other brokers that hold this one's reading paused (relay backpressure across brokers). */
  readonly heldRemotely = new Set<string>();
  /** Senders on other brokers this socket holds back while above the high-water mark: socket id → node. */
  readonly remoteHeldSenders = new Map<string, string>();
  /** Closes this socket as a slow consumer if it keeps senders held back too long. */
  slowTimer: ReturnType<typeof setTimeout> | null = null;
  terminateTimer: ReturnType<typeof setTimeout> | null = null;
  /** While registry notifications to this socket are dropped because it lags: polls for it to drain, then resyncs. */
  lagTimer: ReturnType<typeof setInterval> | null = null;
  /** RPC calls received and not answered yet (bounded by maxCallsInFlight). */
  callsInFlight = 0;
  /** Connection opens received and not answered yet (bounded by maxOpensInFlight). */
  opensInFlight = 0;
  /** What this socket holds of its client's budget: a pending unit before the hello, an eva unit after it. */
  holds: 'pending' | 'evas' | null = null;
  /** The client the budgets count this socket against (clientKey of its upgrade request). */
  readonly client: string;
  private readonly messages = new RateWindow();
  private readonly controls = new RateWindow();

  /** The Origin header of the upgrade request (browsers send it). */
  readonly origin: string | undefined;
  /** The peer's IP address. */
  readonly remoteAddress: string | undefined;
  /** The HTTP upgrade request, kept only until the hello is authenticated: an idle socket must not hold its headers. */
  request: IncomingMessage | null;

  constructor(
    readonly id: string,
    readonly socket: WebSocket,
    request: IncomingMessage,
    client: string,
  ) {
    this.request = request;
    this.origin = request.headers.origin;
    this.remoteAddress = request.socket.remoteAddress;
    this.client = client;
  }

  /** True once the broker forgot this socket (checked after every await: state changes meanwhile). */
  get closed(): boolean {
    return this.state === 'closed';
  }

  /** Counts `messages` (records) against the per-second limit; false once this socket is over it. */
  withinRate(messages: number, limit: number, now: number): boolean {
    return this.messages.add(messages, limit, now);
  }

  /** Counts one control message (hello, ping, call, open, close) against its own, lower, per-second limit. */
  withinControlRate(limit: number, now: number): boolean {
    return this.controls.add(1, limit, now);
  }

  /** True while the broker does not read this socket: relay backpressure, or its client's control budget. */
  get readingPaused(): boolean {
    return this.heldBy.size > 0 || this.heldRemotely.size > 0 || this.pacingTimer !== null;
  }

  /** Pauses or resumes reading the socket as `readingPaused` says (TCP then slows the peer down). */
  syncReading(): void {
    if (this.state === 'closed') return;
    if (this.readingPaused) this.socket.pause();
    else this.socket.resume();
  }

  /** Bytes waiting for this socket: the broker's queue plus what ws has not written yet. */
  get pendingBytes(): number {
    return this.outbound.bytes + this.socket.bufferedAmount;
  }

  clearTimers(): void {
    if (this.helloTimer) clearTimeout(this.helloTimer);
    if (this.terminateTimer) clearTimeout(this.terminateTimer);
    if (this.slowTimer) clearTimeout(this.slowTimer);
    if (this.lagTimer) clearInterval(this.lagTimer);
    if (this.pacingTimer) clearTimeout(this.pacingTimer);
    this.helloTimer = this.terminateTimer = this.slowTimer = this.lagTimer = this.pacingTimer = null;
    this.paced = null;
  }
}

/** A frame waiting for its client's budget, read up to byte `at` (records before it were handled; FrameIntake). */
export interface PacedFrame {
  data: Buffer;
  isBinary: boolean;
  at: number;
}

/** A fixed one-second window: cheap enough for the relay's hot path. */
class RateWindow {
  private start = 0;
  private count = 0;

  add(n: number, limit: number, now: number): boolean {
    if (now - this.start >= 1000) {
      this.start = now;
      this.count = 0;
    }
    this.count += n;
    return this.count <= limit;
  }
}
