import { VnfError, createLogger, createMacrotaskQueue } from '@vnf/core';
import type { Endpoint } from '@vnf/core';
import { OutgoingMessage } from './OutgoingMessage';
import type { EncodedMessage } from './codec';
import type { MarshallerConfig } from './options';

const log = createLogger('marshaller-hub');

/**
 * Bytes handed to the inner endpoint in one macrotask before yielding. An inner hub that cannot report
 * backpressure (bufferedAmount always 0) would otherwise get a 100 MB message in one synchronous loop.
 */
export const BURST_BYTES = 256 * 1024;
/**
 * While paused on backpressure, bufferedAmount is re-checked (and a frame refused with BUFFER_FULL offered again)
 * this often even without a `drain`: the inner layer emits `drain` only below its own low-water mark, which may
 * lie under our highWaterMark.
 */
export const DRAIN_POLL_MS = 50;

/** One turn of the event loop for every sender of the process, batched. */
const nextTurn = createMacrotaskQueue();

export interface SenderHost {
  readonly inner: Endpoint;
  readonly peer: string;
  readonly config: MarshallerConfig;
  /** Sending failed asynchronously; the queue was dropped. */
  onError(error: VnfError): void;
  /** bufferedAmount fell below highWaterMark after having reached it. */
  onDrain(): void;
}

/** A frame cut from `message`, carrying `dataLength` body bytes. */
interface CutFrame {
  readonly message: OutgoingMessage;
  readonly frame: Uint8Array;
  readonly dataLength: number;
}

/**
 * The outgoing side of one connection. Messages start in send order and advance one frame each, round-robin,
 * so a small message never waits for a large one to finish. Pauses while the inner endpoint's bufferedAmount
 * is at or above highWaterMark or refuses a frame with BUFFER_FULL, and yields to the event loop after every
 * BURST_BYTES.
 */
export class Sender {
  private readonly queue: OutgoingMessage[] = [];
  private queued = 0;
  private nextId = 0;
  private state: 'idle' | 'pumping' | 'scheduled' | 'waiting' = 'idle';
  private burst = 0;
  private aboveMark = false;
  private closed = false;
  private stopWaiting: (() => void) | null = null;
  /** A frame the inner endpoint refused with BUFFER_FULL: it goes out before any other. */
  private blocked: CutFrame | null = null;

  constructor(private readonly host: SenderHost) {}

  /** True once closed, by the connection ending or by a failed send; a new Sender takes over. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Body bytes accepted and not yet handed to the inner endpoint. */
  get queuedBytes(): number {
    return this.queued;
  }

  enqueue(encoded: EncodedMessage): void {
    const { chunkSize, highWaterMark } = this.host.config;
    let id = 0;
    if (!OutgoingMessage.fitsOneFrame(encoded.size, chunkSize)) {
      id = this.nextId;
      this.nextId = (this.nextId + 1) >>> 0;
    }
    this.queue.push(new OutgoingMessage(encoded, id));
    this.queued += encoded.size;
    if (this.queued + this.innerBuffered() >= highWaterMark) this.aboveMark = true;
    if (this.state === 'idle') this.pump();
  }

  /** Drops everything not yet sent and stops; returns how many messages were not (fully) sent. */
  close(): number {
    this.closed = true;
    this.stopWaiting?.();
    // A blocked last frame's message has left the queue but was not fully sent either.
    const unsent = this.queue.length + (this.blocked?.message.done ? 1 : 0);
    this.queue.length = 0;
    this.blocked = null;
    this.queued = 0;
    return unsent;
  }

  private pump(): void {
    if (this.closed) return;
    this.sendFrames();
    if (this.closed) return;
    if (!this.aboveMark) return;
    if (this.queued + this.innerBuffered() < this.host.config.highWaterMark) {
      this.aboveMark = false;
      this.host.onDrain();
    } else if (this.state === 'idle') {
      // Everything is handed over but the inner layer still holds too much: watch it, so `drain` is not missed.
      this.waitForDrain();
    }
  }

  private sendFrames(): void {
    const { inner, peer, config } = this.host;
    this.state = 'pumping';
    while (this.blocked !== null || this.queue.length > 0) {
      if (this.innerBuffered() >= config.highWaterMark) return this.waitForDrain();
      if (this.burst >= BURST_BYTES) return this.yieldTurn();
      const cut = this.blocked ?? this.cutFrame();
      this.blocked = null;
      try {
        inner.send(peer, cut.frame);
      } catch (cause) {
        if (VnfError.is(cause, 'BUFFER_FULL')) {
          // Backpressure the inner layer does not show in bufferedAmount (ReliableHub's limit on messages in
          // flight): keep the frame and send it first when the inner layer drains, so no frame goes missing.
          this.blocked = cut;
          return this.waitForDrain();
        }
        return this.fail(cause, cut.message.done ? 1 : 0);
      }
      this.queued -= cut.dataLength;
      this.burst += cut.frame.byteLength;
      // inner.send may report the connection lost synchronously, which closes this sender.
      if (this.closed) return;
    }
    this.state = 'idle';
  }

  /** Cuts the next frame, round-robin; its bytes stay counted in `queued` until the inner endpoint took it. */
  private cutFrame(): CutFrame {
    const message = this.queue.shift() as OutgoingMessage;
    const { frame, dataLength } = message.nextFrame(this.host.config.chunkSize);
    if (!message.done) this.queue.push(message);
    return { message, frame, dataLength };
  }

  private yieldTurn(): void {
    this.state = 'scheduled';
    nextTurn(() => this.resume());
  }

  private waitForDrain(): void {
    this.state = 'waiting';
    const { inner, peer } = this.host;
    const onDrain = (drained: string): void => {
      if (drained === peer) this.resume();
    };
    const timer = setTimeout(() => this.resume(), DRAIN_POLL_MS);
    inner.on('drain', onDrain);
    this.stopWaiting = () => {
      this.stopWaiting = null;
      clearTimeout(timer);
      inner.off('drain', onDrain);
    };
  }

  private resume(): void {
    this.stopWaiting?.();
    if (this.closed) return;
    this.burst = 0;
    this.pump();
  }

  /** `alsoLost` counts a message whose last frame was the one that failed (it has left the queue). */
  private fail(cause: unknown, alsoLost: number): void {
    const unsent = this.close() + alsoLost;
    log('sending to %s failed, %d message(s) dropped: %O', this.host.peer, unsent, cause);
    const code = VnfError.is(cause) ? cause.code : 'INTERNAL';
    this.host.onError(
      new VnfError(
        code,
        `MarshallerHub could not hand a frame to the inner endpoint toward ${this.host.peer} (${String(cause)}); ` +
          `${unsent} message(s) were not fully sent. Check the connection and send again.`,
        { cause, details: { peer: this.host.peer, unsent } },
      ),
    );
  }

  private innerBuffered(): number {
    const { inner, peer } = this.host;
    return inner.destroyed ? 0 : inner.bufferedAmount(peer);
  }
}
