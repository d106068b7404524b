import { VnfError, isBinary, toUint8Array } from '@vnf/core';

/** What `send` streams: a Blob (or File), bytes, a ReadableStream, or an async iterable of chunks (a Node Readable). */
export type StreamSource = Blob | Uint8Array | ArrayBuffer | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array | ArrayBuffer>;

/**
 * A source read in order. A seekable one (Blob, bytes) reads again from any offset, so a resume costs no memory; any
 * other is read once, and what the receiver has not confirmed is kept in a ReplayBuffer.
 */
export interface ChunkSource {
  readonly seekable: boolean;
  /** Its size in bytes, when known before the end. */
  readonly size: number | null;
  /** Up to `max` bytes from `offset` (a non-seekable source: always where its last read ended); null at its end. */
  read(offset: number, max: number): Promise<Uint8Array | null>;
  /** Stops the source (a ReadableStream or iterator is cancelled); idempotent. */
  close(): void;
}

const NOT_YET = Symbol('not yet');

/** Resolves on a later task (a timer of 0 ms: browsers and Node alike). */
function nextTask(): Promise<typeof NOT_YET> {
  return new Promise((resolve) => setTimeout(() => resolve(NOT_YET), 0));
}

/** Blobs are read this much at a time and cut into frames: one `arrayBuffer()` per frame would cost a task each. */
const BLOB_BLOCK_BYTES = 1024 * 1024;

export function toChunkSource(source: StreamSource): ChunkSource {
  if (typeof Blob !== 'undefined' && source instanceof Blob) return new BlobSource(source);
  if (isBinary(source)) return new BytesSource(toUint8Array(source as Uint8Array | ArrayBuffer));
  if (typeof (source as ReadableStream).getReader === 'function') return new ReaderSource((source as ReadableStream<Uint8Array>).getReader());
  if (typeof (source as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function') {
    return new IteratorSource((source as AsyncIterable<Uint8Array | ArrayBuffer>)[Symbol.asyncIterator]());
  }
  throw new VnfError(
    'INVALID_ARGUMENT',
    'send(target, source): source must be a Blob or File, a Uint8Array or ArrayBuffer, a ReadableStream of bytes, or an async iterable of byte chunks (a Node Readable).',
  );
}

class BytesSource implements ChunkSource {
  readonly seekable = true;
  constructor(private readonly bytes: Uint8Array) {}
  get size(): number {
    return this.bytes.byteLength;
  }
  read(offset: number, max: number): Promise<Uint8Array | null> {
    if (offset >= this.bytes.byteLength) return Promise.resolve(null);
    return Promise.resolve(this.bytes.subarray(offset, Math.min(offset + max, this.bytes.byteLength)));
  }
  close(): void {}
}

class BlobSource implements ChunkSource {
  readonly seekable = true;
  private block: Uint8Array = new Uint8Array(0);
  private blockStart = 0;
  constructor(private readonly blob: Blob) {}
  get size(): number {
    return this.blob.size;
  }
  async read(offset: number, max: number): Promise<Uint8Array | null> {
    if (offset >= this.blob.size) return null;
    if (offset < this.blockStart || offset >= this.blockStart + this.block.byteLength) {
      const end = Math.min(this.blob.size, offset + Math.max(max, BLOB_BLOCK_BYTES));
      this.block = new Uint8Array(await this.blob.slice(offset, end).arrayBuffer());
      this.blockStart = offset;
    }
    const from = offset - this.blockStart;
    return this.block.subarray(from, Math.min(from + max, this.block.byteLength));
  }
  close(): void {
    this.block = new Uint8Array(0);
  }
}

/** A source of chunks of any size: hands them out at most `max` bytes at a time. */
abstract class ChunkedSource implements ChunkSource {
  readonly seekable = false;
  readonly size = null;
  private rest: Uint8Array | null = null;
  /** The last read cut a chunk: what is left of it is a tail. */
  private split = false;
  /** A read of the next chunk that a join did not wait for: the next read takes it. */
  private pending: Promise<Uint8Array | null> | null = null;
  protected closed = false;

  async read(_offset: number, max: number): Promise<Uint8Array | null> {
    while (!this.rest || this.rest.byteLength === 0) {
      const next = await this.takeNext();
      if (next === null) return null;
      this.rest = next;
    }
    if (this.rest.byteLength < max && this.split && !this.closed) {
      // The tail of a chunk cut for the last frame: fill this frame from the next chunk too, or a source of 64 KiB
      // chunks would send every other frame nearly empty — if the next chunk comes within a task: a live source's
      // tail is never held back waiting for more.
      this.pending ??= this.nextBytes();
      const next = await Promise.race([this.pending, nextTask()]);
      if (next !== NOT_YET) {
        this.pending = null;
        if (next !== null) return this.join(this.rest, next, max);
      }
    }
    this.split = this.rest.byteLength > max;
    const chunk = this.split ? this.rest.subarray(0, max) : this.rest;
    this.rest = this.split ? this.rest.subarray(max) : null;
    return chunk;
  }

  /**
   * A frame of the tail and the start of the next chunk; the rest of that chunk stays a view. Only what the frame
   * takes is copied: joining whole chunks copied every byte of a source of 1 MiB chunks once more.
   */
  private join(tail: Uint8Array, next: Uint8Array, max: number): Uint8Array {
    const take = Math.min(max - tail.byteLength, next.byteLength);
    const frame = new Uint8Array(tail.byteLength + take);
    frame.set(tail);
    frame.set(take === next.byteLength ? next : next.subarray(0, take), tail.byteLength);
    this.split = take < next.byteLength;
    this.rest = this.split ? next.subarray(take) : null;
    return frame;
  }

  /** The next chunk: the one a join is already waiting for, or a new read. */
  private takeNext(): Promise<Uint8Array | null> {
    const pending = this.pending;
    this.pending = null;
    return pending ?? this.nextBytes();
  }

  private nextBytes(): Promise<Uint8Array | null> {
    const read = this.readBytes();
    read.catch(() => undefined); // a join may stop waiting for it; the next read sees the failure
    return read;
  }

  private async readBytes(): Promise<Uint8Array | null> {
    if (this.closed) return null;
    const next = await this.next();
    if (next === null) return null;
    if (!isBinary(next)) {
      throw new VnfError('INVALID_PAYLOAD', `A stream's source yielded ${typeof next === 'string' ? 'a string' : typeof next}: yield Uint8Array, Buffer or ArrayBuffer chunks (encode text first).`);
    }
    return toUint8Array(next as Uint8Array | ArrayBuffer);
  }

  protected abstract next(): Promise<unknown>;
  abstract close(): void;
}

class ReaderSource extends ChunkedSource {
  constructor(private readonly reader: ReadableStreamDefaultReader<Uint8Array>) {
    super();
  }
  protected async next(): Promise<unknown> {
    const { done, value } = await this.reader.read();
    return done ? null : value;
  }
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.reader.cancel().catch(() => undefined);
  }
}

class IteratorSource extends ChunkedSource {
  constructor(private readonly iterator: AsyncIterator<Uint8Array | ArrayBuffer>) {
    super();
  }
  protected async next(): Promise<unknown> {
    const { done, value } = await this.iterator.next();
    return done ? null : value;
  }
  close(): void {
    if (this.closed) return;
    this.closed = true;
    // A Node Readable's iterator destroys the stream on return().
    Promise.resolve(this.iterator.return?.()).catch(() => undefined);
  }
}

/** What a non-seekable source sent and the receiver has not confirmed: [start, end), kept for a resume or a rewind. */
export class ReplayBuffer {
  /** Chunks in order; those below `head` were released (their slots cleared, so they can be collected at once). */
  private readonly chunks: ({ offset: number; bytes: Uint8Array } | undefined)[] = [];
  private head = 0;
  start = 0;
  end = 0;

  get heldBytes(): number {
    return this.end - this.start;
  }

  push(bytes: Uint8Array): void {
    this.chunks.push({ offset: this.end, bytes });
    this.end += bytes.byteLength;
  }

  /** Up to `max` bytes from `offset` (start <= offset < end). */
  slice(offset: number, max: number): Uint8Array {
    let i = this.head;
    while (i < this.chunks.length - 1 && this.chunks[i]!.offset + this.chunks[i]!.bytes.byteLength <= offset) i++;
    const chunk = this.chunks[i]!;
    const from = offset - chunk.offset;
    return chunk.bytes.subarray(from, Math.min(from + max, chunk.bytes.byteLength));
  }

  /** The receiver has every byte below `offset`: forget them. */
  release(offset: number): void {
    while (this.head < this.chunks.length && this.chunks[this.head]!.offset + this.chunks[this.head]!.bytes.byteLength <= offset) {
      this.start = this.chunks[this.head]!.offset + this.chunks[this.head]!.bytes.byteLength;
      this.chunks[this.head] = undefined;
      this.head++;
    }
    if (this.head > 64 && this.head * 2 > this.chunks.length) {
      this.chunks.splice(0, this.head);
      this.head = 0;
    }
  }

  clear(): void {
    this.chunks.length = 0;
    this.head = 0;
    this.start = this.end;
  }
}
