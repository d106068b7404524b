import { VnfError } from '@vnf/core';
import { RECORD_HEADER_BYTES, RecordKind } from './constants';

/*
 * Binary frames are batches of records, back to back:
 *   kind u8 | eva length u16 BE | eva UTF-8 | payload length u32 BE | payload
 * Strings are written with encodeInto straight into the frame, so a message is copied once.
 */

const encoder = new TextEncoder();

/** Upper bound of the bytes `writeRecord` needs for one record. */
export function recordCapacity(eva: string | Uint8Array, payload: string | Uint8Array): number {
  const evaBytes = typeof eva === 'string' ? eva.length * 3 : eva.byteLength;
  const payloadBytes = typeof payload === 'string' ? payload.length * 3 : payload.byteLength;
  return RECORD_HEADER_BYTES + evaBytes + payloadBytes;
}

/** Writes records into one growing buffer; `finish` returns the frame. */
export class FrameWriter {
  private buffer: Uint8Array;
  private view: DataView;
  private position = 0;

  constructor(initialCapacity = 1024) {
    this.buffer = new Uint8Array(initialCapacity);
    this.view = new DataView(this.buffer.buffer);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.position;
  }

  /** Appends a record. `capacity` is `recordCapacity(eva, payload)` when the caller already computed it. */
  writeRecord(kind: RecordKind, eva: string | Uint8Array, payload: string | Uint8Array, capacity = recordCapacity(eva, payload)): void {
    this.reserve(capacity);
    const start = this.position;
    this.buffer[start] = kind;
    let at = start + 3;
    if (typeof eva === 'string') at += encoder.encodeInto(eva, this.buffer.subarray(at)).written;
    else {
      this.buffer.set(eva, at);
      at += eva.byteLength;
    }
    const evaLength = at - start - 3;
    if (evaLength > 0xffff) throw new VnfError('INVALID_ARGUMENT', `An eva of ${evaLength} bytes does not fit a record; use a shorter eva.`);
    this.view.setUint16(start + 1, evaLength);
    const payloadAt = at + 4;
    let payloadLength: number;
    if (typeof payload === 'string') payloadLength = encoder.encodeInto(payload, this.buffer.subarray(payloadAt)).written;
    else {
      this.buffer.set(payload, payloadAt);
      payloadLength = payload.byteLength;
    }
    this.view.setUint32(at, payloadLength);
    this.position = payloadAt + payloadLength;
  }

  /** The frame written so far (a view; the writer must not be used afterwards). */
  finish(): Uint8Array {
    return this.buffer.subarray(0, this.position);
  }

  private reserve(bytes: number): void {
    const needed = this.position + bytes;
    if (needed <= this.buffer.byteLength) return;
    const grown = new Uint8Array(Math.max(needed, this.buffer.byteLength * 2));
    grown.set(this.buffer.subarray(0, this.position));
    this.buffer = grown;
    this.view = new DataView(grown.buffer);
  }
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

/** Checks that `frame` is a well-formed batch of records and returns how many it holds; throws VnfError PROTOCOL otherwise. */
export function checkRecords(frame: Uint8Array): number {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const end = frame.byteLength;
  let at = 0;
  let count = 0;
  while (at < end) {
    if (at + RECORD_HEADER_BYTES > end) throw malformed(`a record header is cut off at byte ${at}`);
    const kind = frame[at];
    if (kind !== RecordKind.CONTROL && kind !== RecordKind.TEXT && kind !== RecordKind.BINARY) {
      throw malformed(`unknown record kind ${kind} at byte ${at}`);
    }
    const evaLength = view.getUint16(at + 1);
    if (kind === RecordKind.CONTROL ? evaLength !== 0 : evaLength === 0) {
      throw malformed(`record at byte ${at}: control records carry no eva, message records need one`);
    }
    const lengthAt = at + 3 + evaLength;
    if (lengthAt + 4 > end) throw malformed(`the eva of the record at byte ${at} runs past the frame`);
    const payloadEnd = lengthAt + 4 + view.getUint32(lengthAt);
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
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const end = frame.byteLength;
  let at = from;
  while (at < end) {
    const evaLength = view.getUint16(at + 1);
    const lengthAt = at + 3 + evaLength;
    const payloadEnd = lengthAt + 4 + view.getUint32(lengthAt);
    if (visit(frame[at] as RecordKind, frame, at + 3, lengthAt, lengthAt + 4, payloadEnd) === false) return at;
    at = payloadEnd;
  }
  return end;
}

function malformed(what: string): VnfError {
  return new VnfError('PROTOCOL', `Malformed binary frame: ${what}. Frames are batches of records as described in docs/protocol.md.`);
}

/** One record for `writeRecords`, already in bytes (the broker's relay path). */
export interface RecordParts {
  kind: RecordKind;
  eva: Uint8Array;
  payload: Uint8Array;
}

/** Bytes `writeRecords` needs for `record`. */
export function recordLength(record: RecordParts): number {
  return RECORD_HEADER_BYTES + record.eva.byteLength + record.payload.byteLength;
}

/** Writes `records[from, to)` into `target` (exactly the sum of their recordLength) and returns it. */
export function writeRecords(target: Uint8Array, records: readonly RecordParts[], from = 0, to = records.length): Uint8Array {
  const view = new DataView(target.buffer, target.byteOffset, target.byteLength);
  let at = 0;
  for (let i = from; i < to; i++) {
    const { kind, eva, payload } = records[i];
    target[at] = kind;
    view.setUint16(at + 1, eva.byteLength);
    target.set(eva, at + 3);
    at += 3 + eva.byteLength;
    view.setUint32(at, payload.byteLength);
    target.set(payload, at + 4);
    at += 4 + payload.byteLength;
  }
  return target;
}
