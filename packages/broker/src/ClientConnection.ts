import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import type { RegistrySession } from '@vnf/registry';
import type { Role } from '@vnf/websocket-hub';
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
  /** Closes this socket as a slow consumer if it keeps senders held back too long. */
  slowTimer: ReturnType<typeof setTimeout> | null = null;
  terminateTimer: ReturnType<typeof setTimeout> | null = null;
  private windowStart = 0;
  private windowCount = 0;

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
  ) {
    this.request = request;
    this.origin = request.headers.origin;
    this.remoteAddress = request.socket.remoteAddress;
  }

  /** True once the broker forgot this socket (checked after every await: state changes meanwhile). */
  get closed(): boolean {
    return this.state === 'closed';
  }

  /** Counts `messages` against the per-second limit; false once this socket is over it. */
  withinRate(messages: number, limit: number, now: number): boolean {
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.windowCount = 0;
    }
    this.windowCount += messages;
    return this.windowCount <= limit;
  }

  /** Bytes waiting for this socket: the broker's queue plus what ws has not written yet. */
  get pendingBytes(): number {
    return this.outbound.bytes + this.socket.bufferedAmount;
  }

  clearTimers(): void {
    if (this.helloTimer) clearTimeout(this.helloTimer);
    if (this.terminateTimer) clearTimeout(this.terminateTimer);
    if (this.slowTimer) clearTimeout(this.slowTimer);
    this.helloTimer = this.terminateTimer = this.slowTimer = null;
  }
}
