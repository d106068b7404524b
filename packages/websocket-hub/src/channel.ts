import { createLogger, VnfError } from '@vnf/core';
import { backoffDelay } from './backoff';
import {
  CloseCode,
  DEFAULT_MAX_FRAME,
  FATAL_CLOSE_CODES,
  FrameWriter,
  PROTOCOL_VERSION,
  RecordKind,
  closeCodeToErrorCode,
  parseBrokerMessage,
  readRecords,
  recordCapacity,
  type BrokerMessage,
  type ClientMessage,
  type Role,
  type WelcomeLimits,
} from '@vnf/protocol';
import { CallQueue } from './callQueue';
import type { VnfSocket, WebSocketFactory } from './WebSocketFactory';

const log = createLogger('websocket-hub');
/**
 * Byte for byte: a leading U+FEFF is part of the eva or string (the default decoder would strip it, so
 * "\uFEFFcarol" would arrive as "carol"), and bytes that are not UTF-8 throw instead of becoming U+FFFD.
 */
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const OPEN = 1;
/** How often the drain watcher looks at the socket's bufferedAmount (browsers have no drain event). */
const DRAIN_POLL_MS = 10;

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
  /** Set when the state is `failed`. */
  fatalError: VnfError | null = null;
  /** The RPC calls of every Rpc on this socket, held to `limits.callsInFlight`. */
  readonly calls = new CallQueue((text) => this.enqueue(RecordKind.CONTROL, '', text));
  /** Resolves once the first connection attempt succeeded or failed. */
  readonly firstAttempt: Promise<void>;
  private socket: VnfSocket | null = null;
  private session: string | undefined;
  private attempt = 0;
  private nextCall = 1;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private handshakeTimer: ReturnType<typeof setTimeout> | null = null;
  /** Browsers only (no write callback): polls the buffer while a drain is watched. */
  private drainTimer: ReturnType<typeof setTimeout> | null = null;
  /** The low-water mark a drain is watched for (null: none), checked as each frame is written (ws in Node). */
  private drainWatch: number | null = null;
  /** The liveness check's one timer: it looks at `lastReceived` when it fires instead of being re-armed on every frame. */
  private heartbeatTimer: ReturnType<typeof setTimeout> | null = null;
  /** When the current socket last received a frame (Date.now()). */
  private lastReceived = 0;
  /** A ping is out and the socket has received nothing since. */
  private awaitingPong = false;
  /** The socket's bufferedAmount when the ping left: if it shrank, the broker is still taking our bytes. */
  private bufferedAtPing = 0;
  private writer: FrameWriter | null = null;
  private frames: Uint8Array[] = [];
  private queuedBytes = 0;
  private flushScheduled = false;
  private settleFirstAttempt!: () => void;
  private closedResolve: (() => void) | null = null;
  private closedPromise: Promise<void> | null = null;
  /** The source eva of the last message record, as bytes and decoded: a batch is mostly from one sender. */
  private lastEvaBytes: Uint8Array | null = null;
  private lastEva = '';

  constructor(
    private readonly factory: WebSocketFactory,
    private readonly role: Role,
    private readonly eva: string,
    private readonly handler: ChannelHandler,
  ) {
    this.firstAttempt = new Promise((resolve) => (this.settleFirstAttempt = resolve));
    this.flush = this.flush.bind(this);
    this.session = factory.loadSession(role, eva);
  }

  start(): void {
    this.openSocket();
  }

  /** A fresh id for an RPC call on this socket. */
  callId(): number {
    return this.nextCall++;
  }

  sendControl(message: ClientMessage): void {
    this.enqueue(RecordKind.CONTROL, '', JSON.stringify(message));
  }

  sendData(targetEva: string, payload: string | Uint8Array): void {
    this.enqueue(typeof payload === 'string' ? RecordKind.TEXT : RecordKind.BINARY, targetEva, payload);
  }

  /** Bytes queued in this tick plus what the socket has not sent yet. */
  bufferedAmount(): number {
    return this.queuedBytes + (this.socket?.bufferedAmount ?? 0);
  }

  /**
   * Starts watching for the buffer to fall to `lowWaterMark`, then calls `onDrain` once. In Node (ws) each frame
   * sent meanwhile reports when it was written, and the last one written empties the buffer: no timer. Browsers'
   * WebSocket has no such signal, so there the buffer is polled.
   */
  watchDrain(lowWaterMark: number): void {
    if (this.state !== 'up') return;
    if (this.socket?.terminate) {
      this.drainWatch = lowWaterMark;
      return;
    }
    if (this.drainTimer) return;
    const check = (): void => {
      this.drainTimer = null;
      if (this.state !== 'up') return;
      if (this.bufferedAmount() <= lowWaterMark) this.handler.onDrain();
      else this.drainTimer = setTimeout(check, DRAIN_POLL_MS);
    };
    this.drainTimer = setTimeout(check, DRAIN_POLL_MS);
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
    if (wasUp) this.flush();
    this.dropQueue();
    try {
      socket.close(CloseCode.NORMAL);
    } catch (err) {
      log('%s: closing the socket failed: %s', this.eva, String(err));
      this.finishClose();
    }
    return this.closedPromise;
  }

  private enqueue(kind: RecordKind, eva: string, payload: string | Uint8Array): void {
    if (this.state !== 'up') return;
    const capacity = recordCapacity(eva, payload);
    let writer = this.writer;
    if (writer && writer.length > 0 && writer.length + capacity > this.maxFrame) {
      this.frames.push(writer.finish());
      writer = null;
    }
    if (!writer) writer = this.writer = new FrameWriter(Math.min(Math.max(capacity, 4096), Math.max(capacity, this.maxFrame)));
    writer.writeRecord(kind, eva, payload, capacity);
    this.queuedBytes += typeof payload === 'string' ? payload.length : payload.byteLength;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(this.flush);
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.writer) {
      this.frames.push(this.writer.finish());
      this.writer = null;
    }
    const frames = this.frames;
    this.frames = [];
    this.queuedBytes = 0;
    const socket = this.socket;
    if (!socket || socket.readyState !== OPEN) return;
    const written = this.drainWatch === null ? undefined : this.written;
    for (const frame of frames) socket.send(frame, written);
  }

  /** A frame sent while a drain is watched reached the kernel (ws in Node). */
  private written = (): void => {
    if (this.drainWatch === null || this.state !== 'up' || this.bufferedAmount() > this.drainWatch) return;
    this.drainWatch = null;
    this.handler.onDrain();
  };

  private dropQueue(): void {
    this.writer = null;
    this.frames = [];
    this.queuedBytes = 0;
  }

  private openSocket(): void {
    let socket: VnfSocket;
    try {
      socket = this.factory.create();
    } catch (cause) {
      this.handler.onError(new VnfError('UNAVAILABLE', `Could not create a socket to ${this.factory.url}: ${String(cause)}`, { cause }));
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
      this.receive(event.data);
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
    this.dropQueue();
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
    const delay = backoffDelay(this.attempt++, this.factory.reconnect);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.openSocket();
    }, delay);
  }

  private receive(data: unknown): void {
    try {
      if (typeof data === 'string') {
        this.control(parseBrokerMessage(data));
        return;
      }
      const frame = data instanceof ArrayBuffer ? new Uint8Array(data) : data instanceof Uint8Array ? data : null;
      if (!frame) throw new VnfError('PROTOCOL', 'The broker sent a frame of an unexpected type.');
      readRecords(frame, (kind, bytes, evaStart, evaEnd, payloadStart, payloadEnd) => {
        if (kind === RecordKind.CONTROL) {
          this.control(parseBrokerMessage(decoder.decode(bytes.subarray(payloadStart, payloadEnd))));
        } else if (this.state === 'up') {
          const source = this.sourceEva(bytes, evaStart, evaEnd);
          // Binary is copied out of the batch so the application never holds a view of other messages.
          if (kind === RecordKind.BINARY) this.handler.onData(source, bytes.slice(payloadStart, payloadEnd));
          else this.deliverText(source, bytes.subarray(payloadStart, payloadEnd));
        }
      });
    } catch (err) {
      this.handler.onError(
        VnfError.is(err) ? err : new VnfError('PROTOCOL', `Could not read a frame from the broker: ${String(err)}. Check that client and broker versions match.`, { cause: err }),
      );
    }
  }

  /**
   * Delivers a string record. The broker relays its bytes unread, so one sender's bad record is dropped alone:
   * the batch also carries other senders' messages.
   */
  private deliverText(source: string, bytes: Uint8Array): void {
    let text: string;
    try {
      text = decoder.decode(bytes);
    } catch {
      this.handler.onError(
        new VnfError(
          'PROTOCOL',
          `Dropped a string message from ${source} to ${this.eva}: its bytes are not UTF-8, so it cannot be read without changing it. ` +
            'VNF clients never send such messages; check the software behind that eva.',
          { details: { eva: this.eva, sourceEva: source } },
        ),
      );
      return;
    }
    this.handler.onData(source, text);
  }

  /** Decodes a record's source eva, reusing the previous record's string when the bytes are the same. */
  private sourceEva(frame: Uint8Array, start: number, end: number): string {
    const last = this.lastEvaBytes;
    if (last && last.byteLength === end - start) {
      let same = true;
      for (let i = 0; i < last.byteLength; i++) {
        if (last[i] !== frame[start + i]) {
          same = false;
          break;
        }
      }
      if (same) return this.lastEva;
    }
    // A copy: a view would keep the whole frame alive. Cached only once decoded, so bytes that fail to decode
    // can never match the cache and pass for the previous sender.
    const bytes = frame.slice(start, end);
    const eva = decoder.decode(bytes);
    this.lastEvaBytes = bytes;
    this.lastEva = eva;
    return eva;
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
    for (const timer of [this.reconnectTimer, this.handshakeTimer, this.drainTimer, this.heartbeatTimer]) if (timer) clearTimeout(timer);
    this.reconnectTimer = this.handshakeTimer = this.drainTimer = this.heartbeatTimer = null;
    this.drainWatch = null;
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
