import {
  ConnectionStatus,
  VnfError,
  callUserListener,
  createLogger,
  isBinary,
  option,
  optionsSchema,
  validateEva,
  type ErrorCode,
  type MultiplexingEndpoint,
  type SubProtocolChannel,
} from '@vnf/core';
import { EventEmitter } from 'eventemitter3';
import { DATA_HEADER_BYTES, MAX_HEADER_LENGTH, MAX_NAME_LENGTH, MAX_TYPE_LENGTH, decodeControl, decodeData, encodeControl, type ControlFrame } from './frames';
import { IncomingTransfer, type ReceiverHost } from './IncomingTransfer';
import { OutgoingTransfer, type SenderHost } from './OutgoingTransfer';
import { toChunkSource, type StreamSource } from './sources';
import type { PeerStreamsEvents, PeerStreamsOptions, SendOptions } from './types';

const log = createLogger('streams');

export const DEFAULT_SUB_PROTOCOL = 'vnf.streams';
export const DEFAULT_WINDOW_BYTES = 4 * 1024 * 1024;
export const DEFAULT_RESUME_TIMEOUT_MS = 30_000;
export const DEFAULT_RESUME_WINDOW_BYTES = 8 * 1024 * 1024;
export const DEFAULT_PROGRESS_INTERVAL_MS = 100;
export const DEFAULT_MAX_INCOMING_PER_PEER = 16;
/** Frames carry at most this much by default: the size every data channel takes (RtcHub's default limit). */
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024;
/** Finished incoming transfers remembered, so that a resume after the last byte learns it is done. */
const MAX_REMEMBERED = 1024;
const RECONNECT_FIRST_MS = 100;
const RECONNECT_MAX_MS = 2000;
const MAX_TIMER_MS = 2 ** 31 - 1;
/** How long an incoming transfer with credit out waits for a frame before it asks again (a frame lost beneath). */
const STALL_PROBE_MS = 1000;
/** How long a sender hears nothing from its receiver before it asks (`ping`). */
const SENDER_PING_MS = 2000;
/** Frames kept per peer for its next connection, at most. */
const MAX_LATER_FRAMES = 64;

const SCHEMA = optionsSchema('PeerStreams', {
  subProtocol: option.string({ default: DEFAULT_SUB_PROTOCOL, nonEmpty: true }),
  chunkSize: option.integer({ min: 1 }),
  windowBytes: option.integer({ min: 1, default: DEFAULT_WINDOW_BYTES }),
  resumeTimeoutMs: option.number({ min: 0, max: MAX_TIMER_MS, default: DEFAULT_RESUME_TIMEOUT_MS }),
  resumeWindowBytes: option.integer({ min: 1, default: DEFAULT_RESUME_WINDOW_BYTES }),
  progressIntervalMs: option.number({ min: 0, default: DEFAULT_PROGRESS_INTERVAL_MS }),
  maxIncomingPerPeer: option.integer({ min: 1, default: DEFAULT_MAX_INCOMING_PER_PEER }),
});

const SEND_SCHEMA = optionsSchema('send', {
  name: option.string({ default: '' }),
  type: option.string({ default: '' }),
  size: option.integer({ min: 0 }),
  header: option.custom<unknown>({ expected: 'a JSON value', check: () => true }),
  signal: option.custom<AbortSignal>({ expected: 'an AbortSignal', check: (s) => typeof s === 'object' && s !== null && typeof (s as AbortSignal).addEventListener === 'function' }),
});

/**
 * Large transfers between peers as streams, over a sub-protocol of a MultiplexingEndpoint (both peers use
 * `MultiplexHub` and a PeerStreams): `send(target, source)` streams a Blob, bytes, a ReadableStream or an async
 * iterable; the peer's `transfer` event hands it a ReadableStream. Flow-controlled by the receiver's credit, with
 * progress, cancel from either side, resume on a new connection after a break, and an end-to-end SHA-256.
 */
export class PeerStreams extends EventEmitter<PeerStreamsEvents> {
  readonly eva: string;
  private readonly channel: SubProtocolChannel;
  private readonly chunkSize: number;
  private readonly windowBytes: number;
  private readonly resumeTimeoutMs: number;
  private readonly resumeWindowBytes: number;
  private readonly progressIntervalMs: number;
  private readonly maxIncomingPerPeer: number;
  private readonly outgoing = new Map<string, OutgoingTransfer>();
  /** Incoming transfers by `${from}\n${id}`. */
  private readonly incoming = new Map<string, IncomingTransfer>();
  /** Finished incoming transfers by the same key: `code` null when they completed, else how they ended. */
  private readonly remembered = new Map<string, { code: string | null; reason: string; at: number }>();
  /** Frames for peers whose connection is broken, sent on the next connection (bounded per peer). */
  private readonly later = new Map<string, string[]>();
  private readonly opening = new Map<string, Promise<void>>();
  private readonly reconnecting = new Map<string, { timer: ReturnType<typeof setTimeout> | null; delayMs: number }>();
  private readonly senderHost: SenderHost;
  private readonly receiverHost: ReceiverHost;
  private probeTimer: ReturnType<typeof setInterval> | null = null;
  private isClosed = false;

  constructor(
    private readonly endpoint: MultiplexingEndpoint,
    options: PeerStreamsOptions = {},
  ) {
    super();
    if (typeof endpoint !== 'object' || endpoint === null || typeof (endpoint as Partial<MultiplexingEndpoint>).subProtocol !== 'function') {
      throw new VnfError(
        'INVALID_ARGUMENT',
        'PeerStreams needs a MultiplexingEndpoint: open the endpoint on a MultiplexHub (new MultiplexHub(inner).openEndpoint(eva)), on both peers.',
      );
    }
    const resolved = SCHEMA.resolve(options);
    this.eva = endpoint.eva;
    this.channel = endpoint.subProtocol(resolved.subProtocol);
    const largest = this.channel.maxPayloadSize - DATA_HEADER_BYTES;
    this.chunkSize = resolved.chunkSize ?? Math.min(DEFAULT_MAX_FRAME_BYTES - DATA_HEADER_BYTES, largest);
    this.windowBytes = resolved.windowBytes;
    this.resumeTimeoutMs = resolved.resumeTimeoutMs;
    this.resumeWindowBytes = resolved.resumeWindowBytes;
    this.progressIntervalMs = resolved.progressIntervalMs;
    this.maxIncomingPerPeer = resolved.maxIncomingPerPeer;
    const invalid =
      this.chunkSize > largest
        ? `chunkSize ${this.chunkSize} does not fit this stack's frames: at most ${largest} bytes (its payload limit minus ${DATA_HEADER_BYTES} of header)`
        : this.windowBytes < 2 * this.chunkSize
          ? `windowBytes ${this.windowBytes} must be at least twice chunkSize (${this.chunkSize})`
          : this.resumeWindowBytes < 2 * this.chunkSize
            ? `resumeWindowBytes ${this.resumeWindowBytes} must be at least twice chunkSize (${this.chunkSize})`
            : null;
    if (invalid) {
      this.channel.close();
      throw new VnfError('INVALID_ARGUMENT', `PeerStreams: ${invalid}.`);
    }
    this.senderHost = this.createSenderHost();
    this.receiverHost = this.createReceiverHost();
    this.channel.onMessage = (event) => this.onFrame(event.sourceEva, event.message);
    this.channel.on('connectionLost', (peer) => this.onLost(peer));
    this.channel.on('connection', (peer) => this.resumeTo(peer));
    this.channel.on('drain', (peer) => {
      for (const transfer of this.outgoing.values()) if (transfer.target === peer) transfer.onDrain();
    });
    (this.channel as unknown as EventEmitter).once('close', () => void this.close());
    this.send = this.send.bind(this);
    this.close = this.close.bind(this);
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /**
   * Streams `source` to `target`, opening the connection when needed. Returns at once; the transfer's `done`
   * resolves when the receiver has every byte with the same SHA-256. Throws INVALID_ARGUMENT for a bad source or
   * option, DESTROYED once closed.
   */
  send(target: string, source: StreamSource, options: SendOptions = {}): OutgoingTransfer {
    this.assertOpen('send');
    validateEva(target);
    if (target === this.eva) throw new VnfError('INVALID_ARGUMENT', `${this.eva} cannot stream to itself: send to another eva.`);
    const resolved = SEND_SCHEMA.resolve(options);
    const chunks = toChunkSource(source);
    const file = source as { name?: unknown; type?: unknown };
    const name = resolved.name || (typeof Blob !== 'undefined' && source instanceof Blob && typeof file.name === 'string' ? file.name : '');
    const type = resolved.type || (typeof Blob !== 'undefined' && source instanceof Blob && typeof file.type === 'string' ? file.type : '');
    if (name.length > MAX_NAME_LENGTH) throw new VnfError('INVALID_ARGUMENT', `A stream's name is at most ${MAX_NAME_LENGTH} characters; got ${name.length}.`);
    if (type.length > MAX_TYPE_LENGTH) throw new VnfError('INVALID_ARGUMENT', `A stream's type is at most ${MAX_TYPE_LENGTH} characters; got ${type.length}.`);
    if (chunks.size !== null && resolved.size !== undefined && resolved.size !== chunks.size) {
      throw new VnfError('INVALID_ARGUMENT', `send(…, { size: ${resolved.size} }): the source is ${chunks.size} bytes; leave size out for a Blob or bytes.`);
    }
    let header: string | null = null;
    if (resolved.header !== undefined) {
      try {
        header = JSON.stringify(resolved.header);
      } catch (err) {
        throw new VnfError('INVALID_ARGUMENT', `send(…, { header }): the header must be a JSON value (${String(err)}).`);
      }
      if (header === undefined || header.length > MAX_HEADER_LENGTH) {
        throw new VnfError('INVALID_ARGUMENT', `send(…, { header }): the header must be a JSON value of at most ${MAX_HEADER_LENGTH} characters as JSON.`);
      }
    }
    const transfer = new OutgoingTransfer(this.senderHost, target, chunks, { name, type, size: chunks.size ?? resolved.size ?? null, header }, resolved.signal);
    this.outgoing.set(transfer.id, transfer);
    this.startProbes();
    return transfer;
  }

  /** Transfers in progress, both ways. */
  transfers(): { outgoing: OutgoingTransfer[]; incoming: IncomingTransfer[] } {
    return { outgoing: [...this.outgoing.values()], incoming: [...this.incoming.values()] };
  }

  /**
   * Ends every transfer in progress (their `done` reject DESTROYED; peers are told CANCELLED) and closes the
   * sub-protocol; the endpoint stays open. Idempotent.
   */
  close(): Promise<void> {
    if (this.isClosed) return Promise.resolve();
    this.isClosed = true;
    for (const state of this.reconnecting.values()) if (state.timer) clearTimeout(state.timer);
    this.reconnecting.clear();
    const error = new VnfError('DESTROYED', `The PeerStreams of ${this.eva} was closed during the transfer.`);
    // Peers are told while the channel is open (after the endpoint's destroy they learn it from the lost connection).
    const channelOpen = !(this.channel as unknown as { closed?: boolean }).closed;
    for (const transfer of [...this.outgoing.values()]) {
      if (channelOpen) this.sendOnChannel(transfer.target, encodeControl({ t: 'cancel', id: transfer.id, code: 'CANCELLED', reason: 'the sender closed its streams' }));
      transfer.destroy(error);
    }
    for (const transfer of [...this.incoming.values()]) {
      if (channelOpen) this.sendOnChannel(transfer.from, encodeControl({ t: 'cancel', id: transfer.meta.id, code: 'CANCELLED', reason: 'the receiver closed its streams' }));
      transfer.destroy(error);
    }
    this.remembered.clear();
    this.later.clear();
    if (this.probeTimer) clearInterval(this.probeTimer);
    this.probeTimer = null;
    if (channelOpen) this.channel.close();
    this.removeAllListeners();
    return Promise.resolve();
  }

  // ---- routing -------------------------------------------------------------------------------

  private onFrame(source: string, message: unknown): void {
    if (this.isClosed) return;
    if (isBinary(message)) {
      const data = decodeData(message);
      if (!data) return this.report(source, 'a binary frame that is not a data frame');
      this.incoming.get(key(source, data.id))?.onData(data.offset, data.bytes);
      return;
    }
    const frame = typeof message === 'string' ? decodeControl(message) : null;
    if (!frame) return this.report(source, 'something that is not a streams frame');
    const mine = this.outgoing.get(frame.id);
    if (mine) {
      if (mine.target === source) mine.onControl(frame);
      return;
    }
    if (frame.t === 'open') return this.onOpen(source, frame);
    if (frame.t === 'credit' && !this.incoming.has(key(source, frame.id))) {
      // A receiver still waiting for a transfer this side no longer has (it restarted, or ended it unheard).
      this.tell(source, { t: 'cancel', id: frame.id, code: 'UNAVAILABLE', reason: `${this.eva} no longer has this transfer` });
      return;
    }
    const k = key(source, frame.id);
    const transfer = this.incoming.get(k);
    if (transfer) return transfer.onControl(frame);
    if (frame.t === 'resume' || frame.t === 'ping') {
      // A transfer that ended here: say how, so a sender that missed it (a lost fin, a cancel while it was
      // suspended) ends the same way.
      const remembered = this.remembered.get(k);
      if (!remembered) this.tell(source, { t: 'gone', id: frame.id });
      else if (remembered.code === null) this.tell(source, { t: 'fin', id: frame.id });
      else this.tell(source, { t: 'cancel', id: frame.id, code: remembered.code, reason: remembered.reason.slice(0, 1000) });
    }
  }

  private onOpen(source: string, frame: Extract<ControlFrame, { t: 'open' }>): void {
    const k = key(source, frame.id);
    if (this.incoming.has(k) || this.remembered.has(k)) return;
    const refuse = (code: ErrorCode, reason: string) => this.tell(source, { t: 'cancel', id: frame.id, code, reason });
    if (this.listenerCount('transfer') === 0) return refuse('UNAVAILABLE', `${this.eva} does not accept streams (no transfer listener)`);
    let count = 0;
    for (const transfer of this.incoming.values()) if (transfer.from === source) count++;
    if (count >= this.maxIncomingPerPeer) return refuse('BUFFER_FULL', `${this.eva} already receives ${count} transfers from ${source}: wait for one to finish`);
    let header: unknown = null;
    if (frame.header !== null) {
      try {
        header = JSON.parse(frame.header);
      } catch {
        return refuse('PROTOCOL', 'the header is not JSON');
      }
    }
    const transfer = new IncomingTransfer(
      this.receiverHost,
      { id: frame.id, from: source, name: frame.name, type: frame.type, size: frame.size, header },
      frame.secret,
      frame.ack,
    );
    this.incoming.set(k, transfer);
    this.startProbes();
    callUserListener(this, () => this.emit('transfer', transfer), `the PeerStreams of ${this.eva}`);
    transfer.start();
  }

  /** One timer for every transfer in progress: receivers probe for lost frames, senders for a silent receiver. */
  private startProbes(): void {
    this.probeTimer ??= setInterval(() => {
      const now = Date.now();
      for (const t of this.incoming.values()) t.probe(now, STALL_PROBE_MS);
      for (const t of this.outgoing.values()) t.probe(now, SENDER_PING_MS);
    }, STALL_PROBE_MS);
  }

  private stopProbesWhenIdle(): void {
    if (this.incoming.size > 0 || this.outgoing.size > 0 || !this.probeTimer) return;
    clearInterval(this.probeTimer);
    this.probeTimer = null;
  }

  private onLost(peer: string): void {
    for (const transfer of [...this.outgoing.values()]) if (transfer.target === peer) transfer.onLost();
    for (const transfer of [...this.incoming.values()]) if (transfer.from === peer) transfer.onLost();
  }

  /** A connection to `peer` is open (again): what waited for it goes, and the suspended transfers ask to resume. */
  private resumeTo(peer: string): void {
    const waiting = this.later.get(peer);
    if (waiting) {
      this.later.delete(peer);
      for (const frame of waiting) this.sendControl(peer, frame);
    }
    for (const transfer of [...this.outgoing.values()]) if (transfer.target === peer) transfer.onConnected();
  }

  // ---- connections ---------------------------------------------------------------------------

  /** Resolves once connected to `target` (one open shared by concurrent sends); rejects with a stable code. */
  private connect(target: string): Promise<void> {
    if (this.channel.isConnected(target)) return Promise.resolve();
    let opening = this.opening.get(target);
    if (!opening) {
      opening = this.endpoint.openConnection(target).then(({ status, reason }) => {
        if (status === ConnectionStatus.CONNECTED) return;
        const code: ErrorCode =
          reason === 'NOT_FOUND' ? 'NOT_FOUND' : status === ConnectionStatus.TIMEOUT ? 'TIMEOUT' : status === ConnectionStatus.REJECTED ? 'FORBIDDEN' : 'UNAVAILABLE';
        throw new VnfError(code, `${this.eva} could not connect to ${target} (${status}${reason ? `: ${reason}` : ''}) to stream to it.`, { details: { target, status } });
      });
      this.opening.set(target, opening);
      opening.finally(() => this.opening.delete(target)).catch(() => undefined);
    }
    return opening;
  }

  /** Keeps opening a connection to `target`, with backoff, while a transfer toward it waits to resume. */
  private reconnect(target: string): void {
    if (this.isClosed || this.reconnecting.has(target)) return;
    const state = { timer: null as ReturnType<typeof setTimeout> | null, delayMs: RECONNECT_FIRST_MS };
    this.reconnecting.set(target, state);
    const waiting = () => [...this.outgoing.values()].some((t) => t.target === target && !t.finished);
    const attempt = (): void => {
      state.timer = null;
      if (this.isClosed || !waiting()) {
        this.reconnecting.delete(target);
        return;
      }
      let opening: Promise<{ status: string }>;
      try {
        opening = this.endpoint.openConnection(target);
      } catch (err) {
        // The endpoint itself is gone (DESTROYED): nothing will reconnect; the resume deadlines end the transfers.
        this.reconnecting.delete(target);
        log('%s: cannot reconnect to %s: %s', this.eva, target, String(err));
        return;
      }
      void opening.then(({ status }) => {
        if (this.isClosed || this.reconnecting.get(target) !== state) return;
        if (status === ConnectionStatus.CONNECTED) {
          this.reconnecting.delete(target);
          this.resumeTo(target);
          return;
        }
        if (!waiting()) {
          this.reconnecting.delete(target);
          return;
        }
        state.timer = setTimeout(attempt, state.delayMs);
        state.delayMs = Math.min(state.delayMs * 2, RECONNECT_MAX_MS);
      }, (err: unknown) => {
        this.reconnecting.delete(target);
        log('%s: cannot reconnect to %s: %s', this.eva, target, String(err));
      });
    };
    attempt();
  }

  // ---- hosts ---------------------------------------------------------------------------------

  private createSenderHost(): SenderHost {
    const channel = this.channel;
    return {
      eva: this.eva,
      chunkSize: this.chunkSize,
      resumeTimeoutMs: this.resumeTimeoutMs,
      resumeWindowBytes: this.resumeWindowBytes,
      progressIntervalMs: this.progressIntervalMs,
      highWaterMark: channel.highWaterMark,
      send: (target, frame) => channel.send(target, frame),
      isConnected: (target) => !this.isClosed && channel.isConnected(target),
      bufferedAmount: (target) => channel.bufferedAmount(target),
      connect: (target) => this.connect(target),
      reconnect: (target) => this.reconnect(target),
      tellLater: (target, frame) => {
        if (this.isClosed) return;
        const frames = this.later.get(target) ?? [];
        if (frames.length >= MAX_LATER_FRAMES) frames.shift();
        frames.push(frame);
        this.later.set(target, frames);
      },
      finished: (transfer) => {
        if (this.outgoing.get(transfer.id) === transfer) this.outgoing.delete(transfer.id);
        this.stopProbesWhenIdle();
      },
    };
  }

  private createReceiverHost(): ReceiverHost {
    return {
      windowBytes: this.windowBytes,
      resumeTimeoutMs: this.resumeTimeoutMs,
      progressIntervalMs: this.progressIntervalMs,
      control: (peer, frame) => this.sendControl(peer, frame),
      finished: (transfer, code, reason) => {
        const k = key(transfer.from, transfer.meta.id);
        if (this.incoming.get(k) === transfer) this.incoming.delete(k);
        this.stopProbesWhenIdle();
        if (this.isClosed) return;
        this.remember(k, code, reason);
      },
    };
  }

  private remember(k: string, code: string | null, reason: string): void {
    const now = Date.now();
    for (const [old, entry] of this.remembered) {
      if (this.remembered.size < MAX_REMEMBERED && now - entry.at < this.resumeTimeoutMs) break;
      this.remembered.delete(old);
    }
    this.remembered.set(k, { code, reason, at: now });
  }

  private tell(peer: string, frame: ControlFrame): void {
    this.sendControl(peer, encodeControl(frame));
  }

  private sendControl(peer: string, frame: string): void {
    if (!this.isClosed) this.sendOnChannel(peer, frame);
  }

  private sendOnChannel(peer: string, frame: string): void {
    if (!this.channel.isConnected(peer)) return;
    try {
      this.channel.send(peer, frame);
    } catch (err) {
      if (!VnfError.is(err, 'NOT_CONNECTED')) throw err;
    }
  }

  private report(source: string, what: string): void {
    const error = new VnfError('PROTOCOL', `${source} sent ${what} on sub-protocol ${this.channel.name}; it was dropped.`, { details: { peer: source } });
    if (this.listenerCount('error') > 0) callUserListener(this, () => this.emit('error', error), `the PeerStreams of ${this.eva}`);
    else log('%s: %s', this.eva, error.message);
  }

  private assertOpen(operation: string): void {
    if (this.isClosed) throw new VnfError('DESTROYED', `Cannot ${operation}: the PeerStreams of ${this.eva} was closed. Create a new one.`);
  }
}

function key(from: string, id: string): string {
  return `${from}\n${id}`;
}
