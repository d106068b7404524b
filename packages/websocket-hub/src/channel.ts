import { createLogger, VnfError } from '@vnf/core';
import { rotationDelay } from './backoff';
import {
  CloseCode,
  DEFAULT_MAX_FRAME,
  FATAL_CLOSE_CODES,
  PROTOCOL_VERSION,
  RecordKind,
  closeCodeToErrorCode,
  type BrokerMessage,
  type ClientMessage,
  type Role,
  type WelcomeGroups,
  type WelcomeLimits,
} from '@vnf/protocol';
import { CallQueue } from './callQueue';
import { IncomingRecords } from './IncomingRecords';
import { OutgoingBatch } from './OutgoingBatch';
import type { UrlRotation } from './UrlRotation';
import type { VnfSocket, WebSocketFactory } from './WebSocketFactory';

// Module constants: the send path must not go through the re-export's getter on every message.
const TEXT = RecordKind.TEXT;
const BINARY = RecordKind.BINARY;
const GROUP_TEXT = RecordKind.GROUP_TEXT;
const GROUP_BINARY = RecordKind.GROUP_BINARY;

const log = createLogger('websocket-hub');

/** `connecting`: first attempt; `up`: welcomed; `down`: reconnecting; `failed`: refused for good; `closed`: by us. */
export type ChannelState = 'connecting' | 'up' | 'down' | 'failed' | 'closed';

/** What a channel reports to its owner (an endpoint or a WebSocketRpc). */
export interface ChannelHandler {
  onUp(): void;
  /** The socket dropped; a reconnect is scheduled (unless the state is `failed`). */
  onDown(): void;
  /** The broker refused this socket for good (UNAUTHORIZED, EVA_IN_USE, PROTOCOL version). */
  onFatal(error: VnfError): void;
  onControl(message: BrokerMessage): void;
  onData(sourceEva: string, payload: string | Uint8Array): void;
  onDrain(): void;
  onError(error: VnfError): void;
}

/**
 * One socket to the broker for one eva and role: handshake, session-token takeover on reconnect,
 * backoff, and the outbound batch (every message queued in one tick leaves in one frame, in order).
 */
export class Channel {
  state: ChannelState = 'connecting';
  /** The largest frame the broker accepts (from its welcome). */
  maxFrame = DEFAULT_MAX_FRAME;
  /** The budgets of the current socket, from its welcome (none before it, and none from brokers predating them). */
  limits: WelcomeLimits = {};
  /** The groups the current socket's broker offers (its welcome's `groups`); null when it offers none, or predates them. */
  groups: WelcomeGroups | null = null;
  /** Set when the state is `failed`. */
  fatalError: VnfError | null = null;
  /** The RPC calls of every Rpc on this socket, held to `limits.callsInFlight`. */
  readonly calls = new CallQueue((text) => this.outgoing.enqueue(RecordKind.CONTROL, '', text));
  /** Resolves once the first connection attempt succeeded or failed. */
  readonly firstAttempt: Promise<void>;
  private socket: VnfSocket | null = null;
  private session: string | undefined;
  /** Where this socket's next attempt goes, among the factory's broker URLs. */
  private readonly rotation: UrlRotation;
  /** Attempts failed since the last welcome. */
  private attempt = 0;
  private nextCall = 1;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private handshakeTimer: ReturnType<typeof setTimeout> | null = null;
  /** The liveness check's one timer: it looks at `lastReceived` when it fires instead of being re-armed on every frame. */
  private heartbeatTimer: ReturnType<typeof setTimeout> | null = null;
  /** When the current socket last received a frame (Date.now()). */
  private lastReceived = 0;
  /** A ping is out and the socket has received nothing since. */
  private awaitingPong = false;
  /** The socket's bufferedAmount when the ping left: if it shrank, the broker is still taking our bytes. */
  private bufferedAtPing = 0;
  private readonly outgoing: OutgoingBatch;
  private readonly incoming: IncomingRecords;
  private settleFirstAttempt!: () => void;
  private closedResolve: (() => void) | null = null;
  private closedPromise: Promise<void> | null = null;

  constructor(
    private readonly factory: WebSocketFactory,
    private readonly role: Role,
    private readonly eva: string,
    private readonly handler: ChannelHandler,
  ) {
    this.firstAttempt = new Promise((resolve) => (this.settleFirstAttempt = resolve));
    this.outgoing = new OutgoingBatch({
      socket: () => this.socket,
      isUp: () => this.state === 'up',
      maxFrame: () => this.maxFrame,
      onDrain: () => this.handler.onDrain(),
    });
    this.incoming = new IncomingRecords({
      eva,
      isUp: () => this.state === 'up',
      control: (message) => this.control(message),
      onData: (source, payload) => this.handler.onData(source, payload),
      onError: (error) => this.handler.onError(error),
    });
    this.session = factory.loadSession(role, eva);
    this.rotation = factory.rotation();
  }

  start(): void {
    this.openSocket();
  }

  /** A fresh id for an RPC call on this socket. */
  callId(): number {
    return this.nextCall++;
  }

  sendControl(message: ClientMessage): void {
    this.outgoing.enqueue(RecordKind.CONTROL, '', JSON.stringify(message));
  }

  /** As `sendControl`, for a control message already serialized. */
  sendControlText(json: string): void {
    this.outgoing.enqueue(RecordKind.CONTROL, '', json);
  }

  sendData(targetEva: string, payload: string | Uint8Array): void {
    this.outgoing.enqueue(typeof payload === 'string' ? TEXT : BINARY, targetEva, payload);
  }

  /** One record for every target of this socket's broker group `groupId` (defined by a `group` control message before). */
  sendGroupData(groupId: string, payload: string | Uint8Array): void {
    this.outgoing.enqueue(typeof payload === 'string' ? GROUP_TEXT : GROUP_BINARY, groupId, payload);
  }

  /** Bytes queued in this tick plus what the socket has not sent yet. */
  bufferedAmount(): number {
    return this.outgoing.bufferedAmount();
  }

  /** Calls the handler's `onDrain` once the buffer fell to `lowWaterMark` (see OutgoingBatch.watchDrain). */
  watchDrain(lowWaterMark: number): void {
    this.outgoing.watchDrain(lowWaterMark);
  }

  /** Sends what is queued, closes the socket and stops reconnecting. Resolves when the socket has closed. */
  close(): Promise<void> {
    if (this.closedPromise) return this.closedPromise;
    // Closed on purpose: the broker frees the eva, so a stored token would only prove a session that is gone.
    if (this.session) this.factory.forgetSession(this.role, this.eva, this.session);
    const wasUp = this.state === 'up';
    this.state = 'closed';
    this.clearTimers();
    this.calls.down();
    this.settleFirstAttempt();
    const socket = this.socket;
    if (!socket) return (this.closedPromise = Promise.resolve());
    this.closedPromise = new Promise((resolve) => (this.closedResolve = resolve));
    if (wasUp) this.outgoing.flush();
    this.outgoing.drop();
    try {
      socket.close(CloseCode.NORMAL);
    } catch (err) {
      log('%s: closing the socket failed: %s', this.eva, String(err));
      this.finishClose();
    }
    return this.closedPromise;
  }

  private openSocket(): void {
    let socket: VnfSocket;
    // Every attempt, after a failed connect or a lost socket alike, goes to the next broker URL.
    const url = this.rotation.next();
    if (this.rotation.size > 1) log('%s: connecting to %s', this.eva, url);
    try {
      socket = this.factory.create(url);
    } catch (cause) {
      this.handler.onError(new VnfError('UNAVAILABLE', `Could not create a socket to ${url}: ${String(cause)}`, { cause }));
      this.afterSocket(1006, 'create failed');
      return;
    }
    this.socket = socket;
    this.handshakeTimer = setTimeout(() => {
      this.handshakeTimer = null;
      log('%s: no welcome within %d ms; retrying', this.eva, this.factory.handshakeTimeoutMs);
      this.abandon(socket, 'handshake timeout');
    }, this.factory.handshakeTimeoutMs);
    socket.onopen = () => {
      const hello: ClientMessage = { t: 'hello', v: PROTOCOL_VERSION, role: this.role, eva: this.eva };
      if (this.session) hello.session = this.session;
      if (this.factory.authToken !== undefined) hello.auth = this.factory.authToken;
      socket.send(JSON.stringify(hello));
    };
    socket.onmessage = (event) => {
      this.lastReceived = Date.now();
      this.awaitingPong = false;
      this.incoming.receive(event.data);
    };
    socket.onerror = (event) => log('%s: socket error %s', this.eva, String((event as { message?: unknown })?.message ?? ''));
    socket.onclose = (event) => this.socketGone(socket, event.code, event.reason);
  }

  /**
   * Gives up on a socket that will not finish its handshake or stopped answering; its events are ignored from now on.
   * `cut` skips the close handshake where the socket allows it: a dead path would never complete one.
   */
  private abandon(socket: VnfSocket, why: string, cut = false): void {
    socket.onopen = null;
    socket.onmessage = null;
    socket.onclose = null;
    // `ws` throws an 'error' nobody listens to, so keep a listener on the abandoned socket.
    socket.onerror = () => undefined;
    try {
      if (cut && socket.terminate) socket.terminate();
      else socket.close(CloseCode.NORMAL);
    } catch (err) {
      log('%s: closing an abandoned socket failed: %s', this.eva, String(err));
    }
    this.socketGone(socket, 1006, why);
  }

  private socketGone(socket: VnfSocket, code: number, reason: string): void {
    if (socket !== this.socket) return;
    this.socket = null;
    this.afterSocket(code, reason);
  }

  private afterSocket(code: number, reason: string): void {
    this.clearTimers();
    this.outgoing.drop();
    this.calls.down();
    if (this.state === 'closed') {
      this.finishClose();
      return;
    }
    log('%s: socket closed (%d %s)', this.eva, code, reason);
    const wasUp = this.state === 'up';
    if (FATAL_CLOSE_CODES.has(code)) {
      this.state = 'failed';
      if (this.session) this.factory.forgetSession(this.role, this.eva, this.session);
      this.fatalError = new VnfError(closeCodeToErrorCode(code), fatalMessage(code, this.eva, reason), { details: { closeCode: code, reason } });
      if (wasUp) this.handler.onDown();
      this.settleFirstAttempt();
      this.handler.onFatal(this.fatalError);
      return;
    }
    this.state = 'down';
    this.settleFirstAttempt();
    this.handler.onDown();
    const delay = rotationDelay(this.attempt++, this.rotation.size, this.factory.reconnect);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.openSocket();
    }, delay);
  }

  private control(message: BrokerMessage): void {
    if (message.t === 'welcome') {
      if (this.state === 'closed' || this.state === 'up') return;
      if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
      this.handshakeTimer = null;
      this.session = message.session;
      this.factory.saveSession(this.role, this.eva, message.session);
      if (Number.isSafeInteger(message.maxFrame) && message.maxFrame > 0) this.maxFrame = message.maxFrame;
      // Per socket: after a reconnect (perhaps to a restarted broker) the new welcome's limits apply.
      this.limits = message.limits ?? {};
      this.groups = message.groups ?? null;
      this.state = 'up';
      this.attempt = 0;
      this.awaitingPong = false;
      this.armHeartbeat(this.factory.heartbeatIntervalMs);
      this.calls.up(this.limits.callsInFlight);
      this.settleFirstAttempt();
      this.handler.onUp();
      return;
    }
    // Its arrival already counted as proof of life.
    if (message.t === 'pong') return;
    if (message.t === 'error' && message.code === 'PROTOCOL' && String(message.message).includes('"ping"')) {
      // A broker older than ping refuses it as an unknown type; the refusal proves the socket alive all the same.
      log('%s: the broker does not know ping; its error reply serves as the pong', this.eva);
      return;
    }
    if (this.state === 'up') {
      // Whichever Rpc made the call (even one closed since), the broker no longer counts it.
      if (message.t === 'result' || message.t === 'failure') this.calls.answered(message.id);
      this.handler.onControl(message);
    } else if (message.t === 'error') log('%s: broker error before welcome: %s %s', this.eva, message.code, message.message);
  }

  private armHeartbeat(ms: number): void {
    if (this.factory.heartbeatIntervalMs === 0) return;
    this.heartbeatTimer = setTimeout(() => this.checkHeartbeat(), ms);
  }

  /**
   * Sends a ping after `heartbeatIntervalMs` without a frame from the broker, and cuts the socket when nothing
   * arrives within `heartbeatTimeoutMs` of it: a silently dead path (NAT dropped, sleep, half-open TCP) would
   * otherwise keep the endpoint "online" until TCP gives up, minutes later.
   */
  private checkHeartbeat(): void {
    this.heartbeatTimer = null;
    const socket = this.socket;
    if (this.state !== 'up' || !socket) return;
    if (this.awaitingPong) {
      // A sender the broker holds back (flow control) cannot be answered, but its buffer drains while the path lives.
      if (!(socket.bufferedAmount < this.bufferedAtPing)) {
        log('%s: nothing from the broker within %d ms of a ping; reconnecting', this.eva, this.factory.heartbeatTimeoutMs);
        this.abandon(socket, 'heartbeat timeout', true);
        return;
      }
      this.awaitingPong = false;
    }
    const idle = Date.now() - this.lastReceived;
    if (idle < this.factory.heartbeatIntervalMs) {
      this.armHeartbeat(this.factory.heartbeatIntervalMs - idle);
      return;
    }
    this.awaitingPong = true;
    this.bufferedAtPing = socket.bufferedAmount;
    this.sendControl({ t: 'ping' });
    this.armHeartbeat(this.factory.heartbeatTimeoutMs);
  }

  private clearTimers(): void {
    for (const timer of [this.reconnectTimer, this.handshakeTimer, this.heartbeatTimer]) if (timer) clearTimeout(timer);
    this.reconnectTimer = this.handshakeTimer = this.heartbeatTimer = null;
    this.outgoing.stopWatching();
  }

  private finishClose(): void {
    const resolve = this.closedResolve;
    this.closedResolve = null;
    resolve?.();
  }
}

function fatalMessage(code: number, eva: string, reason: string): string {
  const why = reason ? ` (${reason})` : '';
  switch (code) {
    case CloseCode.UNAUTHORIZED:
      return `The broker refused ${eva}${why}: check the factory's authToken and the page's origin.`;
    case CloseCode.VERSION:
      return `The broker does not speak protocol version ${PROTOCOL_VERSION}${why}: upgrade the client or the broker so they match.`;
    case CloseCode.TAKEN_OVER:
      return `Another socket took over ${eva} with its session token${why}; this one stopped. Open the eva in one place only.`;
    default:
      return `Another live socket holds ${eva}${why}. Destroy the other endpoint or use another eva.`;
  }
}
