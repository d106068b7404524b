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
 * Over an inner hub with no drain signal (highWaterMark Infinity: a third-party hub), a sender paused on a
 * BUFFER_FULL tries again this often. Every VNF hub owes a `drain` after BUFFER_FULL and past its highWaterMark,
 * so over them nothing polls.
 */
export const BLIND_RETRY_MS = 50;

/** One turn of the event loop for every sender of the process, batched. */
const nextTurn = createMacrotaskQueue();

export interface SenderHost {
  readonly inner: Endpoint;
  readonly peer: string;
  readonly config: MarshallerConfig;
  /** Sending failed asynchronously; the queue was dropped. */
  onError(error: VnfError): void;
  /** Frames left the queue: bufferedAmount shrank (the endpoint's drain may be due). */
  onProgress(): void;
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
  private closed = false;
  private stopWaiting: (() => void) | null = null;
  /** A frame the inner endpoint refused with BUFFER_FULL: it goes out before any other. */
  private blocked: CutFrame | null = null;

  constructor(private readonly host: SenderHost) {}

  /** True once closed, by the connection ending or by a failed send; a new Sender takes over. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Nothing waits to be handed to the inner endpoint: a frame given to it directly now comes after all this sender sent. */
  get idle(): boolean {
    return this.state === 'idle';
  }

  /** Body bytes accepted and not yet handed to the inner endpoint. */
  get queuedBytes(): number {
    return this.queued;
  }

  enqueue(encoded: EncodedMessage): void {
    const { chunkSize } = this.host.config;
    let id = 0;
    if (!OutgoingMessage.fitsOneFrame(encoded.size, chunkSize)) {
      id = this.nextId;
      this.nextId = (this.nextId + 1) >>> 0;
    }
    this.queue.push(new OutgoingMessage(encoded, id));
    this.queued += encoded.size;
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
    const before = this.queued;
    this.sendFrames();
    if (this.closed) return;
    if (this.queued < before) this.host.onProgress();
  }

  private sendFrames(): void {
    const { inner, peer, config } = this.host;
    this.state = 'pumping';
    while (this.blocked !== null || this.queue.length > 0) {
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
      // Checked after a send, never before: the inner endpoint owes a `drain` once a send left it past its
      // highWaterMark, so the wait always ends (a buffer grown by the inner layer's own traffic owes none yet).
      if (this.innerBuffered() > config.innerHighWaterMark) return this.waitForDrain();
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
    const timer = this.host.config.innerHighWaterMark === Infinity ? setTimeout(() => this.resume(), BLIND_RETRY_MS) : null;
    inner.on('drain', onDrain);
    this.stopWaiting = () => {
      this.stopWaiting = null;
      if (timer) clearTimeout(timer);
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
