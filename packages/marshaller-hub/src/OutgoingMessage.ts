import { CHUNK_HEADER, FrameType, SINGLE_HEADER, START_HEADER, allocateFrame } from './frames';
import type { EncodedMessage } from './codec';

/** Cuts one encoded message into frames of at most `chunkSize` bytes, one frame per call, reading the parts in place. */
export class OutgoingMessage {
  /** Body bytes not yet framed. */
  remaining: number;
  private readonly parts: Uint8Array[];
  private partIndex = 0;
  private partOffset = 0;
  private started = false;

  constructor(
    encoded: EncodedMessage,
    /** Numbers the multi-frame messages of a connection; unused for a single frame. */
    private readonly id: number,
  ) {
    this.parts = encoded.parts;
    this.remaining = encoded.size;
  }

  /** True when the whole message fits one SINGLE frame. */
  static fitsOneFrame(size: number, chunkSize: number): boolean {
    return size + SINGLE_HEADER <= chunkSize;
  }

  get done(): boolean {
    return this.remaining === 0 && this.started;
  }

  /** The next frame and how many body bytes it carries. */
  nextFrame(chunkSize: number): { frame: Uint8Array; dataLength: number } {
    let allocated: { frame: Uint8Array; offset: number };
    let dataLength: number;
    if (this.started) {
      dataLength = Math.min(chunkSize - CHUNK_HEADER, this.remaining);
      allocated = allocateFrame(FrameType.CHUNK, dataLength, this.id);
    } else if (OutgoingMessage.fitsOneFrame(this.remaining, chunkSize)) {
      dataLength = this.remaining;
      allocated = allocateFrame(FrameType.SINGLE, dataLength);
    } else {
      dataLength = Math.min(chunkSize - START_HEADER, this.remaining);
      allocated = allocateFrame(FrameType.START, dataLength, this.id, this.remaining);
    }
    this.started = true;
    this.copyInto(allocated.frame, allocated.offset, dataLength);
    this.remaining -= dataLength;
    return { frame: allocated.frame, dataLength };
  }

  private copyInto(target: Uint8Array, offset: number, length: number): void {
    let at = offset;
    let left = length;
    while (left > 0) {
      const part = this.parts[this.partIndex];
      const n = Math.min(left, part.byteLength - this.partOffset);
      target.set(part.subarray(this.partOffset, this.partOffset + n), at);
      at += n;
      left -= n;
      this.partOffset += n;
      if (this.partOffset === part.byteLength) {
        this.partIndex++;
        this.partOffset = 0;
      }
    }
  }
}
