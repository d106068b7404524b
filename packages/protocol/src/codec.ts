import { VnfError } from '@vnf/core';
import { RECORD_HEADER_BYTES, RecordKind } from './constants';

/*
 * Binary frames are batches of records, back to back:
 *   kind u8 | eva length u16 BE | eva UTF-8 | payload length u32 BE | payload
 * Strings are written with encodeInto straight into the frame, so a message is copied once.
 */

const encoder = new TextEncoder();
// Module constants: the hot loops below must not go through the re-exported object's getter on every record.
const CONTROL = RecordKind.CONTROL;
const BINARY = RecordKind.BINARY;
const GROUP_BINARY = RecordKind.GROUP_BINARY;
const HEADER = RECORD_HEADER_BYTES;

/** Node's Buffer where there is one: it writes a string as UTF-8 at an offset without a view per write. */
const NodeBuffer = (globalThis as { Buffer?: { allocUnsafe(size: number): Uint8Array & { write(s: string, offset: number): number } } }).Buffer;

/** Upper bound of the bytes `writeRecord` needs for one record. */
export function recordCapacity(eva: string | Uint8Array, payload: string | Uint8Array): number {
  const evaBytes = typeof eva === 'string' ? eva.length * 3 : eva.byteLength;
  const payloadBytes = typeof payload === 'string' ? payload.length * 3 : payload.byteLength;
  return HEADER + evaBytes + payloadBytes;
}

/** Writes records into one growing buffer; `finish` returns the frame. */
export class FrameWriter {
  private buffer: Uint8Array;
  private position = 0;

  constructor(initialCapacity = 1024) {
    this.buffer = allocate(initialCapacity);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.position;
  }

  /** Appends a record. `capacity` is `recordCapacity(eva, payload)` when the caller already computed it. */
  writeRecord(kind: RecordKind, eva: string | Uint8Array, payload: string | Uint8Array, capacity = recordCapacity(eva, payload)): void {
    if (this.position + capacity > this.buffer.byteLength) this.reserve(capacity);
    const buffer = this.buffer;
    const start = this.position;
    buffer[start] = kind;
    let at = start + 3;
    if (typeof eva === 'string') at += writeString(buffer, eva, at);
    else {
      for (let i = 0; i < eva.byteLength; i++) buffer[at + i] = eva[i];
      at += eva.byteLength;
    }
    const evaLength = at - start - 3;
    if (evaLength > 0xffff) throw new VnfError('INVALID_ARGUMENT', `An eva of ${evaLength} bytes does not fit a record; use a shorter eva.`);
    // Byte by byte: a DataView per frame costs more than it saves, and this runs once per message.
    buffer[start + 1] = evaLength >>> 8;
    buffer[start + 2] = evaLength & 0xff;
    const payloadAt = at + 4;
    let payloadLength: number;
    if (typeof payload === 'string') payloadLength = writeString(buffer, payload, payloadAt);
    else {
      buffer.set(payload, payloadAt);
      payloadLength = payload.byteLength;
    }
    buffer[at] = payloadLength >>> 24;
    buffer[at + 1] = (payloadLength >>> 16) & 0xff;
    buffer[at + 2] = (payloadLength >>> 8) & 0xff;
    buffer[at + 3] = payloadLength & 0xff;
    this.position = payloadAt + payloadLength;
  }

  /**
   * Appends a record carrying `source[start, end)` (the broker relaying a payload from the frame it arrived in):
   * copied once, with no view of `source` kept.
   */
  writeSlice(kind: RecordKind, eva: Uint8Array, source: Uint8Array, start: number, end: number): void {
    const payloadLength = end - start;
    const evaLength = eva.byteLength;
    const bytes = HEADER + evaLength + payloadLength;
    if (this.position + bytes > this.buffer.byteLength) this.reserve(bytes);
    const buffer = this.buffer;
    let at = this.position;
    // Byte by byte, as in writeRecord.
    buffer[at] = kind;
    buffer[at + 1] = evaLength >>> 8;
    buffer[at + 2] = evaLength & 0xff;
    at += 3;
    for (let i = 0; i < evaLength; i++) buffer[at++] = eva[i];
    buffer[at] = payloadLength >>> 24;
    buffer[at + 1] = (payloadLength >>> 16) & 0xff;
    buffer[at + 2] = (payloadLength >>> 8) & 0xff;
    buffer[at + 3] = payloadLength & 0xff;
    at += 4;
    // subarray, not new Uint8Array(buffer, offset, length): V8 builds a view of a buffer slowly (measured 1.5× the copy).
    if (payloadLength > 0) buffer.set(source.subarray(start, end), at);
    this.position = at + payloadLength;
  }

  /** Appends records already encoded (a run of another writer's). */
  writeEncoded(records: Uint8Array): void {
    if (this.position + records.byteLength > this.buffer.byteLength) this.reserve(records.byteLength);
    this.buffer.set(records, this.position);
    this.position += records.byteLength;
  }

  /**
   * A view of `[start, end)` of what was written, while writing goes on: bytes once written are never rewritten (a
   * growing buffer copies them), so the view stays what it was.
   */
  view(start: number, end: number): Uint8Array {
    return this.buffer.subarray(start, end);
  }

  /** The frame written so far (a view; the writer must not be used afterwards). */
  finish(): Uint8Array {
    return this.buffer.subarray(0, this.position);
  }

  private reserve(bytes: number): void {
    const needed = this.position + bytes;
    if (needed <= this.buffer.byteLength) return;
    const grown = allocate(Math.max(needed, this.buffer.byteLength * 2));
    grown.set(this.buffer.subarray(0, this.position));
    this.buffer = grown;
  }
}

/** A frame buffer: a Node Buffer where there is one (no zero-fill, and `write`), else a Uint8Array. */
function allocate(size: number): Uint8Array {
  return NodeBuffer ? NodeBuffer.allocUnsafe(size) : new Uint8Array(size);
}

/** Writes `s` as UTF-8 into `buffer` (room reserved) at `at`; returns the bytes written. */
function writeString(buffer: Uint8Array, s: string, at: number): number {
  if (NodeBuffer) return (buffer as Uint8Array & { write(s: string, offset: number): number }).write(s, at);
  return encoder.encodeInto(s, buffer.subarray(at)).written;
}

/** Called once per record with offsets into the frame, so the reader allocates nothing itself. */
export type RecordVisitor = (kind: RecordKind, frame: Uint8Array, evaStart: number, evaEnd: number, payloadStart: number, payloadEnd: number) => void;

/** As RecordVisitor, for `visitRecords`: returning false stops before the next record (the broker pacing a client). */
export type StoppableRecordVisitor = (kind: RecordKind, frame: Uint8Array, evaStart: number, evaEnd: number, payloadStart: number, payloadEnd: number) => boolean;

/**
 * Checks the whole frame first, then visits each record: a malformed frame is rejected as a whole
 * (VnfError PROTOCOL) and none of its records is acted upon.
 */
export function readRecords(frame: Uint8Array, visit: RecordVisitor): number {
  const count = checkRecords(frame);
  // Only a visitor that returns false stops; one typed to return nothing goes through every record.
  visitRecords(frame, 0, visit as StoppableRecordVisitor);
  return count;
}

/**
 * Checks that `frame` is a well-formed batch of records and returns how many it holds; throws VnfError PROTOCOL otherwise.
 * `groups`: the group kinds (GROUP_TEXT, GROUP_BINARY) are accepted too — a broker that offers groups reading its
 * clients; a client never accepts them, as no broker sends them.
 */
export function checkRecords(frame: Uint8Array, groups = false): number {
  const highestKind = groups ? GROUP_BINARY : BINARY;
  const end = frame.byteLength;
  let at = 0;
  let count = 0;
  while (at < end) {
    if (at + HEADER > end) throw malformed(`a record header is cut off at byte ${at}`);
    const kind = frame[at];
    if (kind > highestKind) throw malformed(`unknown record kind ${kind} at byte ${at}`);
    const evaLength = u16(frame, at + 1);
    if (kind === CONTROL ? evaLength !== 0 : evaLength === 0) {
      throw malformed(`record at byte ${at}: control records carry no eva, message and group records need one`);
    }
    const lengthAt = at + 3 + evaLength;
    if (lengthAt + 4 > end) throw malformed(`the eva of the record at byte ${at} runs past the frame`);
    const payloadEnd = lengthAt + 4 + u32(frame, lengthAt);
    if (payloadEnd > end) throw malformed(`the payload of the record at byte ${at} runs past the frame`);
    at = payloadEnd;
    count++;
  }
  if (count === 0) throw malformed('an empty binary frame');
  return count;
}

/**
 * Visits the records of a frame `checkRecords` accepted, from the record at byte `from`; returns the byte of the
 * first record not visited (the frame's length when all were), so that a visitor that stopped can go on later.
 */
export function visitRecords(frame: Uint8Array, from: number, visit: StoppableRecordVisitor): number {
  const end = frame.byteLength;
  let at = from;
  while (at < end) {
    const lengthAt = at + 3 + u16(frame, at + 1);
    const payloadEnd = lengthAt + 4 + u32(frame, lengthAt);
    if (visit(frame[at] as RecordKind, frame, at + 3, lengthAt, lengthAt + 4, payloadEnd) === false) return at;
    at = payloadEnd;
  }
  return end;
}

/** Big-endian integers read byte by byte: no DataView per frame (the broker reads one per socket read). */
function u16(frame: Uint8Array, at: number): number {
  return (frame[at] << 8) | frame[at + 1];
}

function u32(frame: Uint8Array, at: number): number {
  return frame[at] * 0x1000000 + ((frame[at + 1] << 16) | (frame[at + 2] << 8) | frame[at + 3]);
}

function malformed(what: string): VnfError {
  return new VnfError('PROTOCOL', `Malformed binary frame: ${what}. Frames are batches of records as described in docs/protocol.md.`);
}
