import { VnfError, copyBinary, utf8Length } from '@vnf/core';

/*
 * RtcHub's data frames: several messages in one data channel (or relayed) message, because each native send costs far
 * more than the bytes it carries. A frame is a sequence of records: kind (1 byte: 0 string, 1 binary,
 * 2 channel control), length (4 bytes, big-endian), then that many bytes (UTF-8 for strings, one code for control).
 */

/** Bytes a record adds to its message. */
export const RECORD_OVERHEAD = 5;

const KIND_STRING = 0;
const KIND_BINARY = 1;
const KIND_CONTROL = 2;

/** Channel control codes: the handshake that makes both sides connected before either reports CONNECTED. */
export const ChannelControl = {
  /** First record the non-initiating side sends on a new data channel: it is connected and listening. */
  READY: 1,
  /** The initiating side's answer to READY: it is connected too. */
  ACK: 2,
  /** Last record of a closed connection: the peer has everything sent before it and may close the channel. */
  BYE: 3,
} as const;
export type ChannelControl = (typeof ChannelControl)[keyof typeof ChannelControl];

/** A decoded record: a message, or a channel control code. */
export type Decoded = string | Uint8Array | { control: number };

const encoder = new TextEncoder();
/** Byte for byte: a leading U+FEFF stays part of the string, and bytes that are not UTF-8 are refused, never replaced. */
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * One message, taken when it was sent, so a sender changing its buffer afterwards changes nothing. Strings are
 * immutable: they stay strings until `encodeFrame` writes them straight into the frame (no intermediate copy).
 */
export type FrameRecord =
  | { kind: typeof KIND_STRING; text: string; length: number }
  | { kind: typeof KIND_BINARY | typeof KIND_CONTROL; bytes: Uint8Array; length: number };

export function toRecord(message: string | Uint8Array | ArrayBuffer): FrameRecord {
  if (typeof message === 'string') return { kind: KIND_STRING, text: message, length: utf8Length(message) };
  const bytes = copyBinary(message);
  return { kind: KIND_BINARY, bytes, length: bytes.byteLength };
}

export function controlRecord(code: ChannelControl): FrameRecord {
  return { kind: KIND_CONTROL, bytes: Uint8Array.of(code), length: 1 };
}

/** Size of a record inside a frame. */
export function recordSize(record: FrameRecord): number {
  return record.length + RECORD_OVERHEAD;
}

/** Encodes `records[start..end)` into one frame. */
export function encodeFrame(records: readonly FrameRecord[], start = 0, end = records.length): Uint8Array {
  let total = 0;
  for (let i = start; i < end; i++) total += recordSize(records[i]);
  const frame = new Uint8Array(total);
  const view = new DataView(frame.buffer);
  let offset = 0;
  for (let i = start; i < end; i++) {
    const record = records[i];
    frame[offset] = record.kind;
    view.setUint32(offset + 1, record.length);
    const at = offset + RECORD_OVERHEAD;
    if (record.kind !== KIND_STRING) frame.set(record.bytes, at);
    else if (record.length > 0) {
      const { read, written } = encoder.encodeInto(record.text, frame.subarray(at, at + record.length));
      // utf8Length undercounts a lone surrogate before some characters; such rare strings take the exact path.
      if (read !== record.text.length || written !== record.length) return encodeExactly(records, start, end);
    }
    offset = at + record.length;
  }
  return frame;
}

function encodeExactly(records: readonly FrameRecord[], start: number, end: number): Uint8Array {
  const parts: Array<{ kind: number; bytes: Uint8Array }> = [];
  let total = 0;
  for (let i = start; i < end; i++) {
    const record = records[i];
    const bytes = record.kind === KIND_STRING ? encoder.encode(record.text) : record.bytes;
    parts.push({ kind: record.kind, bytes });
    total += bytes.byteLength + RECORD_OVERHEAD;
  }
  const frame = new Uint8Array(total);
  const view = new DataView(frame.buffer);
  let offset = 0;
  for (const { kind, bytes } of parts) {
    frame[offset] = kind;
    view.setUint32(offset + 1, bytes.byteLength);
    frame.set(bytes, offset + RECORD_OVERHEAD);
    offset += RECORD_OVERHEAD + bytes.byteLength;
  }
  return frame;
}

/** Splits a frame into its records: strings, binary as private Uint8Array copies, control codes. Throws PROTOCOL when malformed. */
export function decodeFrame(data: Uint8Array | ArrayBuffer): Decoded[] {
  const frame = data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const messages: Decoded[] = [];
  let offset = 0;
  while (offset < frame.byteLength) {
    if (offset + RECORD_OVERHEAD > frame.byteLength) throw malformed('a record header is cut short');
    const kind = frame[offset];
    const length = view.getUint32(offset + 1);
    const start = offset + RECORD_OVERHEAD;
    if (start + length > frame.byteLength) throw malformed('a record is longer than its frame');
    const bytes = frame.subarray(start, start + length);
    if (kind === KIND_STRING) messages.push(utf8(bytes));
    else if (kind === KIND_BINARY) messages.push(bytes.slice());
    else if (kind === KIND_CONTROL && length === 1) messages.push({ control: bytes[0] });
    else throw malformed(`unknown record kind ${kind}`);
    offset = start + length;
  }
  return messages;
}

function utf8(bytes: Uint8Array): string {
  try {
    return decoder.decode(bytes);
  } catch {
    throw malformed('a string record that is not UTF-8');
  }
}

function malformed(what: string): VnfError {
  return new VnfError('PROTOCOL', `Malformed RtcHub data frame: ${what}. Both peers must run compatible @vnf/rtc-hub versions.`);
}
