import { FrameWriter, RECORD_HEADER_BYTES, RecordKind } from '@vnf/protocol';

const CONTROL = RecordKind.CONTROL;
/** Module constants: read once per relayed record, they must not go through the re-export's getter. */
const HEADER = RECORD_HEADER_BYTES;
const EMPTY = new Uint8Array(0);
/** A flush's first frame is sized like the previous flush (within these bounds), so a steady stream grows no buffer. */
const MIN_FRAME = 1024;
const MAX_HINT = 256 * 1024;

/**
 * Records waiting for one socket, written straight into the frame they will leave in: a relayed payload is copied
 * once, from the frame it arrived in, when it is queued. Frames are cut at `maxFrame` bytes (a record larger than
 * that gets a frame of its own). Nothing is allocated while the socket is idle.
 */
export class OutboundQueue {
  private writer: FrameWriter | null = null;
  /** Frames already full, waiting for the flush. */
  private full: Uint8Array[] | null = null;
  private fullBytes = 0;
  /** The size of the last flush: the next one starts with a frame that big. */
  private hint = 0;

  /** Bytes the queued records will take on the wire. */
  get bytes(): number {
    return (this.writer ? this.writer.length : 0) + this.fullBytes;
  }

  get isEmpty(): boolean {
    return this.writer === null && this.full === null;
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

  clear(): void {
    this.writer = null;
    this.full = null;
    this.fullBytes = 0;
  }

  /** Empties the queue into its frames, in order. */
  takeFrames(): Uint8Array[] {
    const frames = this.full ?? [];
    if (this.writer) frames.push(this.writer.finish());
    this.hint = Math.min(MAX_HINT, this.bytes);
    this.clear();
    return frames;
  }

  /** The frame a record of at most `bytes` goes into: the current one, or a new one if it would pass maxFrame. */
  private writerFor(bytes: number, maxFrame: number): FrameWriter {
    const writer = this.writer;
    if (writer && writer.length + bytes <= maxFrame) return writer;
    if (writer) {
      (this.full ??= []).push(writer.finish());
      this.fullBytes += writer.length;
    }
    return (this.writer = new FrameWriter(Math.max(bytes, MIN_FRAME, Math.min(this.hint, maxFrame))));
  }
}
