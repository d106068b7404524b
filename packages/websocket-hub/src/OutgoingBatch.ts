import { FrameWriter, RECORD_HEADER_BYTES, type RecordKind } from '@vnf/protocol';
import type { VnfSocket } from './WebSocketFactory';

const OPEN = 1;
const encoder = new TextEncoder();
/** A module constant: read once per message, it must not go through the re-export's getter. */
const HEADER = RECORD_HEADER_BYTES;
/** How often the drain watcher looks at the socket's bufferedAmount where there is no write callback (browsers). */
const DRAIN_POLL_MS = 10;

/** What the outgoing batch needs of its channel. */
export interface BatchHost {
  /** The current socket (null between sockets). */
  socket(): VnfSocket | null;
  /** True while the socket is welcomed: only then is anything queued. */
  isUp(): boolean;
  /** The largest frame the broker accepts. */
  maxFrame(): number;
  onDrain(): void;
}

/**
 * The channel's outbound side: every record queued in one tick leaves in one frame (or as few as maxFrame allows),
 * in order, written straight into the frame; and the drain watch of the socket's buffer.
 */
export class OutgoingBatch {
  private writer: FrameWriter | null = null;
  /** The target of the last record, as a string and as UTF-8: a batch mostly goes to one peer. */
  private lastEva = '';
  private lastEvaBytes: Uint8Array = new Uint8Array(0);
  /** The size of the last frame sent: the next one starts that big, so a steady stream grows no buffer. */
  private frameHint = 4096;
  private frames: Uint8Array[] = [];
  private queued = 0;
  private flushScheduled = false;
  /** Browsers only (no write callback): polls the buffer while a drain is watched. */
  private drainTimer: ReturnType<typeof setTimeout> | null = null;
  /** The low-water mark a drain is watched for (null: none), checked as each frame is written (ws in Node). */
  private drainWatch: number | null = null;

  constructor(private readonly host: BatchHost) {
    this.flush = this.flush.bind(this);
  }

  /** Bytes queued in this tick plus what the socket has not sent yet. */
  bufferedAmount(): number {
    return this.queued + (this.host.socket()?.bufferedAmount ?? 0);
  }

  enqueue(kind: RecordKind, eva: string, payload: string | Uint8Array): void {
    if (!this.host.isUp()) return;
    const evaBytes = eva === this.lastEva ? this.lastEvaBytes : this.encodeEva(eva);
    const payloadUnits = typeof payload === 'string' ? payload.length : payload.byteLength;
    // recordCapacity, inline: this runs once per message.
    const capacity = HEADER + evaBytes.byteLength + (typeof payload === 'string' ? payloadUnits * 3 : payloadUnits);
    let writer = this.writer;
    if (writer !== null && writer.length + capacity > this.host.maxFrame() && writer.length > 0) {
      this.frames.push(writer.finish());
      writer = null;
    }
    if (writer === null) {
      const maxFrame = this.host.maxFrame();
      writer = this.writer = new FrameWriter(Math.min(Math.max(capacity, this.frameHint), Math.max(capacity, maxFrame)));
    }
    writer.writeRecord(kind, evaBytes, payload, capacity);
    this.queued += payloadUnits;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(this.flush);
    }
  }

  /** Sends what is queued now (at the end of the tick, or before a close). */
  flush(): void {
    this.flushScheduled = false;
    if (this.writer) {
      this.frames.push(this.writer.finish());
      this.frameHint = Math.max(1024, Math.min(256 * 1024, this.writer.length));
      this.writer = null;
    }
    const frames = this.frames;
    this.frames = [];
    this.queued = 0;
    const socket = this.host.socket();
    if (!socket || socket.readyState !== OPEN) return;
    const written = this.drainWatch === null ? undefined : this.written;
    for (const frame of frames) socket.send(frame, written);
  }

  /** `eva` in UTF-8, kept while the records go to the same peer. */
  private encodeEva(eva: string): Uint8Array {
    this.lastEvaBytes = encoder.encode(eva);
    this.lastEva = eva;
    return this.lastEvaBytes;
  }

  /** Forgets what is queued (the socket is gone, or closing). */
  drop(): void {
    this.writer = null;
    this.frames = [];
    this.queued = 0;
  }

  /**
   * Starts watching for the buffer to fall to `lowWaterMark`, then calls `onDrain` once. In Node (ws) each frame
   * sent meanwhile reports when it was written, and the last one written empties the buffer: no timer. Browsers'
   * WebSocket has no such signal, so there the buffer is polled.
   */
  watchDrain(lowWaterMark: number): void {
    if (!this.host.isUp()) return;
    if (this.host.socket()?.terminate) {
      this.drainWatch = lowWaterMark;
      return;
    }
    if (this.drainTimer) return;
    const check = (): void => {
      this.drainTimer = null;
      if (!this.host.isUp()) return;
      if (this.bufferedAmount() <= lowWaterMark) this.host.onDrain();
      else this.drainTimer = setTimeout(check, DRAIN_POLL_MS);
    };
    this.drainTimer = setTimeout(check, DRAIN_POLL_MS);
  }

  /** Ends a drain watch (the socket went). */
  stopWatching(): void {
    if (this.drainTimer) clearTimeout(this.drainTimer);
    this.drainTimer = null;
    this.drainWatch = null;
  }

  /** A frame sent while a drain is watched reached the kernel (ws in Node). */
  private written = (): void => {
    if (this.drainWatch === null || !this.host.isUp() || this.bufferedAmount() > this.drainWatch) return;
    this.drainWatch = null;
    this.host.onDrain();
  };
}
