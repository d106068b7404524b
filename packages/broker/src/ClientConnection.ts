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
  /** The target eva of this socket's last relayed record, as bytes and decoded: a batch is mostly to one peer. */
  private lastTargetBytes: Uint8Array | null = null;
  private lastTarget = '';
  readonly outbound = new OutboundQueue();
  registry: RegistrySession | null = null;
  /** This socket's groups (Groups): id → distinct targets. Made by its first group; they end with the socket. */
  groups: Map<string, readonly string[]> | null = null;
  /** The hello's authToken, kept only when the broker has a registry `authorize` hook to give it to. */
  auth: string | undefined = undefined;
  /** Set by any pong or frame, cleared by each look of the heartbeat. */
  alive = true;
  /** Heartbeat looks in a row that found this socket silent (Departures.startHeartbeat). */
  silentLooks = 0;
  helloTimer: ReturnType<typeof setTimeout> | null = null;
  /** While this socket is not read because its client spent a control budget: ends the pause. */
  pacingTimer: ReturnType<typeof setTimeout> | null = null;
  /** Frames waiting for the client's control budget, the first one partly read (FrameIntake). */
  paced: PacedFrame[] | null = null;
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
    return (this.heldBySet !== null && this.heldBySet.size > 0) || (this.heldRemotelySet !== null && this.heldRemotelySet.size > 0) || this.pacingTimer !== null;
  }

  /** Pauses or resumes reading the socket as `readingPaused` says (TCP then slows the peer down). */
  syncReading(): void {
    if (this.state === 'closed') return;
    if (this.readingPaused) this.socket.pause();
    else this.socket.resume();
  }

  // The sets below are made on first use: an idle endpoint (most of a broker's sockets) holds none of them, and
  // six empty collections would be a sixth of its memory.
  private peerSet: Set<string> | null = null;
  private heldSenderSet: Set<ClientConnection> | null = null;
  private heldBySet: Set<ClientConnection> | null = null;
  private remoteMap: Map<string, { node: string; socket: string }> | null = null;
  private heldRemotelySet: Set<string> | null = null;
  private remoteHeldSenderMap: Map<string, string> | null = null;

  /** Evas this endpoint has an open connection with (kept symmetric by the broker). */
  get peers(): Set<string> {
    return (this.peerSet ??= new Set());
  }

  /** Sockets whose reading is paused because they relay to this one while it is above the high-water mark. */
  get heldSenders(): Set<ClientConnection> {
    return (this.heldSenderSet ??= new Set());
  }

  /** Targets holding this socket's reading paused; it reads again when none is left. */
  get heldBy(): Set<ClientConnection> {
    return (this.heldBySet ??= new Set());
  }

  /** Peers of this endpoint held by other brokers: their node and socket (the connection's incarnation). */
  get remotes(): Map<string, { node: string; socket: string }> {
    return (this.remoteMap ??= new Map());
  }

  /** Sockets on other brokers that hold this one's reading paused (relay backpressure across brokers). */
  get heldRemotely(): Set<string> {
    return (this.heldRemotelySet ??= new Set());
  }

  /** Senders on other brokers this socket holds back while above the high-water mark: socket id → node. */
  get remoteHeldSenders(): Map<string, string> {
    return (this.remoteHeldSenderMap ??= new Map());
  }

  /** Open connections with endpoints of this broker, read without making the set (metrics, at scrape time). */
  get localPeerCount(): number {
    return this.peerSet === null ? 0 : this.peerSet.size;
  }

  /** Open connections with endpoints of other brokers, read without making the map (metrics, at scrape time). */
  get remotePeerCount(): number {
    return this.remoteMap === null ? 0 : this.remoteMap.size;
  }

  /** True while this socket is not read because a target, here or on another broker, is above its high-water mark. */
  get heldBack(): boolean {
    return (this.heldBySet !== null && this.heldBySet.size > 0) || (this.heldRemotelySet !== null && this.heldRemotelySet.size > 0);
  }

  /** True while some socket, here or on another broker, is held back by this one (its writes then release them). */
  get holdsSenders(): boolean {
    return (this.heldSenderSet !== null && this.heldSenderSet.size > 0) || (this.remoteHeldSenderMap !== null && this.remoteHeldSenderMap.size > 0);
  }

  /** The target eva named by `frame[start, end)` (UTF-8), reusing the previous record's string when the bytes are the same. */
  targetEva(frame: Uint8Array, start: number, end: number): string {
    const last = this.lastTargetBytes;
    if (last !== null && last.byteLength === end - start) {
      let i = 0;
      while (i < last.byteLength && last[i] === frame[start + i]) i++;
      if (i === last.byteLength) return this.lastTarget;
    }
    // A copy (Buffer#slice would be a view, and keep the whole frame alive).
    this.lastTargetBytes = Uint8Array.prototype.slice.call(frame, start, end);
    this.lastTarget = Buffer.prototype.toString.call(frame, 'utf8', start, end);
    return this.lastTarget;
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
