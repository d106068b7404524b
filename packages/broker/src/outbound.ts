import { FrameWriter, RECORD_HEADER_BYTES, RecordKind } from '@vnf/protocol';

const CONTROL = RecordKind.CONTROL;
/** Module constants: read once per relayed record, they must not go through the re-export's getter. */
const HEADER = RECORD_HEADER_BYTES;
const EMPTY = new Uint8Array(0);
/** A flush's first frame is sized like the previous flush (within these bounds), so a steady stream grows no buffer. */
const MIN_FRAME = 1024;
const MAX_HINT = 256 * 1024;
/**
 * Shared records start at least this big: Node allocates smaller Buffers in an 8 KiB slab shared with others, which a
 * view would keep alive whole; from 4 KiB a Buffer has memory of its own.
 */
const MIN_SHARED = 4096;
/** A shared run is sent as a view only when it is at least this fraction of the buffer the view keeps alive. */
const MAX_PIN_RATIO = 8;

/**
 * Group records of one I/O turn, each written once whatever its number of targets: a target's queue holds a run of
 * them as a range, sent as a view (Relay starts a new one every turn; views of an old one stay valid).
 */
export class SharedRecords {
  private readonly writer: FrameWriter;

  constructor(capacity: number) {
    this.writer = new FrameWriter(Math.max(MIN_SHARED, capacity));
  }

  /** Bytes written. */
  get length(): number {
    return this.writer.length;
  }

  /** Writes a record carrying `source[start, end)` from `eva`; it ends at `length`. */
  write(kind: RecordKind, eva: Uint8Array, source: Uint8Array, start: number, end: number): void {
    this.writer.writeSlice(kind, eva, source, start, end);
  }

  view(start: number, end: number): Uint8Array {
    return this.writer.view(start, end);
  }
}

/**
 * Records waiting for one socket, written straight into the frame they will leave in: a relayed payload is copied
 * once, from the frame it arrived in, when it is queued; a group record is not copied per target at all (SharedRecords). Frames are cut at `maxFrame` bytes (a record larger than
 * that gets a frame of its own). Nothing is allocated while the socket is idle.
 */
export class OutboundQueue {
  private writer: FrameWriter | null = null;
  /** Frames already full, waiting for the flush. */
  private full: Uint8Array[] | null = null;
  private fullBytes = 0;
  /** Bytes of the queue's own frames sealed since the last flush: the next flush's first frame is sized on them. */
  private ownBytes = 0;
  /** The size of the last flush's own frames: the next one starts with a frame that big. */
  private hint = 0;
  /**
   * The tail of the queue when it is a run of shared group records, `shared[sharedStart, sharedEnd)`: the next
   * group record for this socket that follows it in `shared` extends it. The tail is this run or `writer`, never both.
   */
  private shared: SharedRecords | null = null;
  private sharedStart = 0;
  private sharedEnd = 0;

  /** Bytes the queued records will take on the wire. */
  get bytes(): number {
    return (this.writer ? this.writer.length : 0) + this.fullBytes + this.sharedEnd - this.sharedStart;
  }

  get isEmpty(): boolean {
    return this.writer === null && this.full === null && this.shared === null;
  }

  /** Queues a record carrying `source[start, end)`; `eva` is its source (a relayed message). */
  push(kind: RecordKind, eva: Uint8Array, source: Uint8Array, start: number, end: number, maxFrame: number): void {
    this.writerFor(HEADER + eva.byteLength + end - start, maxFrame).writeSlice(kind, eva, source, start, end);
  }

  /** A control message already serialized, written as UTF-8 in place. */
  controlText(json: string, maxFrame: number): void {
    const capacity = HEADER + json.length * 3;
    this.writerFor(capacity, maxFrame).writeRecord(CONTROL, EMPTY, json, capacity);
  }

  /**
   * Queues the group record `records[start, end)`. Nothing is copied when it extends the run of shared records at the
   * tail (it directly follows it there, and the frame stays within maxFrame) or starts one (nothing else is open, or
   * the run is full); else it is copied into the queue's own frame, as a relayed record is: a socket that gets group
   * and other records interleaved gets them in few frames (at most one more a flush than with no sharing).
   */
  pushShared(records: SharedRecords, start: number, end: number, maxFrame: number): void {
    const shared = this.shared;
    if (shared === records && this.sharedEnd === start) {
      if (end - this.sharedStart <= maxFrame) {
        this.sharedEnd = end;
        return;
      }
    } else if (shared !== null || this.writer !== null) {
      this.writerFor(end - start, maxFrame).writeEncoded(records.view(start, end));
      return;
    }
    this.sealShared();
    this.shared = records;
    this.sharedStart = start;
    this.sharedEnd = end;
  }

  clear(): void {
    this.writer = null;
    this.full = null;
    this.fullBytes = 0;
    this.ownBytes = 0;
    this.shared = null;
    this.sharedStart = this.sharedEnd = 0;
  }

  /** Empties the queue into its frames, in order. */
  takeFrames(): Uint8Array[] {
    this.sealWriter();
    this.sealShared();
    const frames = this.full ?? [];
    this.hint = Math.min(MAX_HINT, this.ownBytes);
    this.clear();
    return frames;
  }

  /** The frame a record of at most `bytes` goes into: the current one, or a new one if it would pass maxFrame. */
  private writerFor(bytes: number, maxFrame: number): FrameWriter {
    const writer = this.writer;
    if (writer && writer.length + bytes <= maxFrame) return writer;
    this.sealWriter();
    this.sealShared();
    return (this.writer = new FrameWriter(Math.max(bytes, MIN_FRAME, Math.min(this.hint, maxFrame))));
  }

  private sealWriter(): void {
    const writer = this.writer;
    if (!writer) return;
    (this.full ??= []).push(writer.finish());
    this.fullBytes += writer.length;
    this.ownBytes += writer.length;
    this.writer = null;
  }

  private sealShared(): void {
    const shared = this.shared;
    if (!shared) return;
    const view = shared.view(this.sharedStart, this.sharedEnd);
    // A view keeps the turn's whole buffer alive while the socket holds it, yet is counted (pendingBytes, the
    // socket's bufferedAmount) at its own length: a run that is a small part of its buffer leaves as a copy, so what
    // a lagging socket pins stays within MAX_PIN_RATIO times what it is charged.
    (this.full ??= []).push(view.byteLength * MAX_PIN_RATIO < view.buffer.byteLength ? new Uint8Array(view) : view);
    this.fullBytes += this.sharedEnd - this.sharedStart;
    this.shared = null;
    this.sharedStart = this.sharedEnd = 0;
  }
}
