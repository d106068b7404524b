import { isBinary, toUint8Array } from '@vnf/core';

/*
 * The frames members exchange on a room's sub-protocol. A broadcast is numbered in its sender's stream: the
 * sender's incarnation (8 characters, new at each join) and a sequence number from 0.
 *   broadcast  string body: "B" + inc + seq (base 36) + ":" + body
 *              binary body: [1] + inc (8 bytes) + seq (u32 BE) + body
 *              other body:  ["B", inc, seq, body]                 (JSON values, MarshallerHub beneath)
 *   direct     "D" + body  |  [2] + body  |  ["D", body]
 *   control    JSON text starting with "{": hello, hey, nack, hi, gone (see Control)
 * Strings and binary keep the body's own form, so a wire hub beneath carries them without JSON.
 */

export const INC_LENGTH = 8;
const BINARY_BROADCAST = 1;
const BINARY_DIRECT = 2;
const BINARY_HEADER = 1 + INC_LENGTH + 4;
/** Sequence numbers stay below 2^32 (the binary frame's field): a sender reaching it joins again with a new incarnation. */
export const MAX_SEQ = 0xffffffff;

export type Control =
  /**
   * "Your stream from me starts at `n`, and the last I sent is `s`": sent when a connection to a member opens (and on
   * request). `s` (absent before the first broadcast) tells a member back after a long cut what it missed at the tail.
   */
  | { t: 'hello'; i: string; n: number; s?: number }
  /** "Send me your hello again": a receiver holding frames of a stream whose start it does not know. */
  | { t: 'hey'; i: string }
  /** "Send me again these `[from, to]` ranges of your stream `i`" (ascending, at most MAX_NACK_RANGES). */
  | { t: 'nack'; i: string; r: Array<[number, number]> }
  /** "The last I sent of stream `i` is `s`": tail-loss probe. */
  | { t: 'hi'; i: string; s: number }
  /** "Stream `i` no longer holds what is below `upTo`": the gap cannot be repaired. */
  | { t: 'gone'; i: string; upTo: number };

export type Frame =
  | { kind: 'broadcast'; inc: string; seq: number; body: unknown }
  | { kind: 'direct'; body: unknown }
  | { kind: 'control'; control: Control };

const encoder = new TextEncoder();

/** A new incarnation: 8 characters of base 36 from the platform's random source. */
export function newIncarnation(): string {
  const bytes = new Uint8Array(INC_LENGTH);
  globalThis.crypto.getRandomValues(bytes);
  let inc = '';
  for (const b of bytes) inc += (b % 36).toString(36);
  return inc;
}

export function encodeBroadcast(inc: string, seq: number, body: unknown): unknown {
  if (typeof body === 'string') return 'B' + inc + seq.toString(36) + ':' + body;
  if (isBinary(body)) {
    const payload = toUint8Array(body);
    const frame = new Uint8Array(BINARY_HEADER + payload.byteLength);
    frame[0] = BINARY_BROADCAST;
    encoder.encodeInto(inc, frame.subarray(1, 1 + INC_LENGTH));
    const at = 1 + INC_LENGTH;
    frame[at] = seq >>> 24;
    frame[at + 1] = (seq >>> 16) & 0xff;
    frame[at + 2] = (seq >>> 8) & 0xff;
    frame[at + 3] = seq & 0xff;
    frame.set(payload, BINARY_HEADER);
    return frame;
  }
  return ['B', inc, seq, body];
}

export function encodeDirect(body: unknown): unknown {
  if (typeof body === 'string') return 'D' + body;
  if (isBinary(body)) {
    const payload = toUint8Array(body);
    const frame = new Uint8Array(1 + payload.byteLength);
    frame[0] = BINARY_DIRECT;
    frame.set(payload, 1);
    return frame;
  }
  return ['D', body];
}

export function encodeControl(control: Control): string {
  return JSON.stringify(control);
}

/** Bytes a frame adds to a string or binary body, at most (for maxPayloadSize). */
export const MAX_HEADER_BYTES = 1 + INC_LENGTH + 7 + 1;

/** Reads a frame a member sent; null when it is not one. */
export function decodeFrame(message: unknown): Frame | null {
  if (typeof message === 'string') return decodeText(message);
  if (isBinary(message)) return decodeBinary(toUint8Array(message));
  if (Array.isArray(message)) {
    if (message.length === 4 && message[0] === 'B' && isInc(message[1]) && isSeq(message[2])) {
      return { kind: 'broadcast', inc: message[1], seq: message[2], body: message[3] };
    }
    if (message.length === 2 && message[0] === 'D') return { kind: 'direct', body: message[1] };
  }
  return null;
}

function decodeText(text: string): Frame | null {
  const tag = text.charCodeAt(0);
  if (tag === 0x42 /* B */) {
    // Once per broadcast at every member: characters checked by code, no regular expression, no substring but the two kept.
    if (text.length < 2 + INC_LENGTH + 1) return null;
    for (let i = 1; i <= INC_LENGTH; i++) if (!isBase36(text.charCodeAt(i))) return null;
    let seq = 0;
    let at = 1 + INC_LENGTH;
    for (; at < text.length && at <= INC_LENGTH + 7; at++) {
      const c = text.charCodeAt(at);
      if (c === 0x3a /* : */) break;
      if (!isBase36(c)) return null;
      seq = seq * 36 + (c <= 0x39 ? c - 0x30 : c - 0x57);
    }
    if (at === 1 + INC_LENGTH || text.charCodeAt(at) !== 0x3a || !isSeq(seq)) return null;
    return { kind: 'broadcast', inc: text.slice(1, 1 + INC_LENGTH), seq, body: text.slice(at + 1) };
  }
  if (tag === 0x44 /* D */) return { kind: 'direct', body: text.slice(1) };
  if (tag === 0x7b /* { */) {
    const control = parseControl(text);
    return control ? { kind: 'control', control } : null;
  }
  return null;
}

function decodeBinary(frame: Uint8Array): Frame | null {
  if (frame.byteLength >= 1 && frame[0] === BINARY_DIRECT) return { kind: 'direct', body: frame.slice(1) };
  if (frame.byteLength < BINARY_HEADER || frame[0] !== BINARY_BROADCAST) return null;
  let inc = '';
  for (let i = 1; i <= INC_LENGTH; i++) inc += String.fromCharCode(frame[i]);
  if (!isInc(inc)) return null;
  const at = 1 + INC_LENGTH;
  const seq = frame[at] * 0x1000000 + ((frame[at + 1] << 16) | (frame[at + 2] << 8) | frame[at + 3]);
  return { kind: 'broadcast', inc, seq, body: frame.slice(BINARY_HEADER) };
}

function parseControl(text: string): Control | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const c = value as Record<string, unknown>;
  if (!isInc(c.i)) return null;
  switch (c.t) {
    case 'hello':
      if (!isSeq(c.n) || (c.s !== undefined && !isSeq(c.s))) return null;
      return c.s === undefined ? { t: 'hello', i: c.i, n: c.n } : { t: 'hello', i: c.i, n: c.n, s: c.s };
    case 'hey':
      return { t: 'hey', i: c.i };
    case 'nack':
      return isRanges(c.r) ? { t: 'nack', i: c.i, r: c.r } : null;
    case 'hi':
      return isSeq(c.s) ? { t: 'hi', i: c.i, s: c.s } : null;
    case 'gone':
      return isSeq(c.upTo) ? { t: 'gone', i: c.i, upTo: c.upTo } : null;
    default:
      return null;
  }
}

/** Ranges a nack holds, at most. */
export const MAX_NACK_RANGES = 64;

function isRanges(v: unknown): v is Array<[number, number]> {
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_NACK_RANGES) return false;
  let last = -1;
  for (const range of v) {
    if (!Array.isArray(range) || range.length !== 2 || !isSeq(range[0]) || !isSeq(range[1])) return false;
    if (range[0] <= last || range[1] < range[0]) return false;
    last = range[1];
  }
  return true;
}

function isInc(v: unknown): v is string {
  if (typeof v !== 'string' || v.length !== INC_LENGTH) return false;
  for (let i = 0; i < INC_LENGTH; i++) if (!isBase36(v.charCodeAt(i))) return false;
  return true;
}

/** 0-9 or a-z. */
function isBase36(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7a);
}

function isSeq(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= MAX_SEQ;
}
