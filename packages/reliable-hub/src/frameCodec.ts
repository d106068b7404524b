import { toUint8Array, type Payload } from '@vnf/core';

/**
 * The ReliableHub wire format (written down in packages/reliable-hub/README.md, "Wire format").
 *
 * Every frame but a datagram names its connection by a tag (an integer below 36^4 chosen by the opener), so
 * frames of an earlier connection between the same two endpoints, delayed by the network, are recognised. A
 * datagram (a multicast) is one frame for many targets: it names the sender's session and a counter instead.
 * Data frames keep the type of the payload: a string payload travels in a string frame, binary in a
 * binary frame, so neither is re-encoded. Control frames are short ASCII strings.
 */

/** Tags are four base-36 characters in string frames and three bytes in binary frames. */
export const TAG_LIMIT = 36 ** 4;
const TAG_CHARS = 4;
const SESSION_CHARS = 8;
/** Most base-36 digits of a number in a frame: 36^11 is above Number.MAX_SAFE_INTEGER, so a twelfth never helps. */
const MAX_DIGITS = 11;
/** Largest header a data frame adds: 'd' + tag + 11 base-36 digits of a sequence number + ':' (strings). */
export const FRAME_OVERHEAD = 1 + TAG_CHARS + MAX_DIGITS + 1;
/** 'd': the type letter of data frames, string and binary alike. */
const DATA_LETTER = 0x64;
/** 'g': the type letter of datagram frames (a multicast, outside every connection's sequence), string and binary alike. */
const DATAGRAM_LETTER = 0x67;
/** Base-36 digits of a datagram counter in string frames: a fixed width, so no separator is needed. */
const COUNTER_CHARS = 8;
/**
 * The last datagram counter a sender uses (36^8 − 1, about 2.8 × 10^12). A datagram header ('g' + session + counter)
 * is then at most FRAME_OVERHEAD bytes, in string frames (17) and binary ones (at most 15), so a multicast carries
 * every payload `send` does.
 */
export const MAX_DATAGRAM_COUNTER = 36 ** COUNTER_CHARS - 1;
const DATAGRAM_HEADER_CHARS = 1 + SESSION_CHARS + COUNTER_CHARS;

export type Frame =
  | { type: 'data'; tag: number; seq: number; payload: Payload }
  | HandshakeFrame
  | { type: 'ack'; tag: number; cum: number; ranges: Array<[number, number]> }
  | { type: 'probe' | 'close'; tag: number }
  /** `session`: the sender's; absent from peers before 0.2.0, which sent none. */
  | { type: 'reset'; tag: number; session?: string }
  /** A multicast: no tag (one frame serves every target), numbered by the sender's session-wide `counter`. */
  | { type: 'datagram'; session: string; counter: number; payload: Payload };

/** The frames of one connection: every frame but a datagram, which names none. */
export type ConnectionFrame = Exclude<Frame, { type: 'datagram' }>;

/** HELLO opens a connection; HELLO_ACK (`helloAck`) accepts it. `n` numbers the sender's handshakes. */
export interface HandshakeFrame {
  type: 'hello' | 'helloAck';
  tag: number;
  session: string;
  n: number;
  window: number;
}

const CONTROL_LETTER = { hello: 'h', helloAck: 'k', ack: 'a', probe: 'p', close: 'c', reset: 'x' } as const;
const SESSION = new RegExp(`^[0-9a-z]{${SESSION_CHARS}}$`);

/** The part of a string data frame before its sequence number: the same for every message of a connection. */
export function dataHeader(tag: number): string {
  return `d${tagString(tag)}`;
}

/** `header` is `dataHeader(tag)`, which a connection computes once rather than for every message. */
export function encodeData(tag: number, seq: number, payload: Payload, header = dataHeader(tag)): Payload {
  if (typeof payload === 'string') return `${header}${seq.toString(36)}:${payload}`;
  const body = toUint8Array(payload);
  const seqBytes = varintLength(seq);
  const frame = new Uint8Array(4 + seqBytes + body.byteLength);
  frame[0] = DATA_LETTER;
  frame[1] = (tag >>> 16) & 0xff;
  frame[2] = (tag >>> 8) & 0xff;
  frame[3] = tag & 0xff;
  writeVarint(frame, 4, seq);
  frame.set(body, 4 + seqBytes);
  return frame;
}

/**
 * A datagram frame: the same bytes for every target of a multicast, so it names the sender's session (a receiver
 * drops one from an earlier incarnation) and its counter (1 up to MAX_DATAGRAM_COUNTER), never a connection.
 */
export function encodeDatagram(session: string, counter: number, payload: Payload): Payload {
  if (typeof payload === 'string') return `g${session}${counter.toString(36).padStart(COUNTER_CHARS, '0')}${payload}`;
  const body = toUint8Array(payload);
  const counterBytes = varintLength(counter);
  const frame = new Uint8Array(1 + SESSION_CHARS + counterBytes + body.byteLength);
  frame[0] = DATAGRAM_LETTER;
  for (let i = 0; i < SESSION_CHARS; i++) frame[1 + i] = session.charCodeAt(i);
  writeVarint(frame, 1 + SESSION_CHARS, counter);
  frame.set(body, 1 + SESSION_CHARS + counterBytes);
  return frame;
}

export function encodeHello(type: 'hello' | 'helloAck', tag: number, session: string, n: number, window: number): string {
  return `${CONTROL_LETTER[type]}${tagString(tag)}${session}${n.toString(36)}.${window.toString(36)}`;
}

export function encodeAck(tag: number, cum: number, ranges: ReadonlyArray<readonly [number, number]>): string {
  let frame = `a${tagString(tag)}${cum.toString(36)}`;
  for (const [from, to] of ranges) frame += from === to ? `,${from.toString(36)}` : `,${from.toString(36)}-${to.toString(36)}`;
  return frame;
}

export function encodeSignal(type: 'probe' | 'close', tag: number): string {
  return `${CONTROL_LETTER[type]}${tagString(tag)}`;
}

/** RESET names the sender's session, so the receiver tells a restarted peer from one that closed the connection. */
export function encodeReset(tag: number, session: string): string {
  return `${CONTROL_LETTER.reset}${tagString(tag)}${session}`;
}

/** Decodes a frame; null when it is not a ReliableHub frame (the caller reports PROTOCOL). */
export function decodeFrame(raw: unknown): Frame | null {
  if (typeof raw === 'string') return decodeString(raw);
  if (raw instanceof Uint8Array || raw instanceof ArrayBuffer) return decodeBinary(toUint8Array(raw));
  return null;
}

/** A random session id: a new one for every endpoint instance, so a restarted peer is recognised. */
export function randomSession(): string {
  const bytes = new Uint8Array(SESSION_CHARS);
  globalThis.crypto.getRandomValues(bytes);
  let s = '';
  for (const b of bytes) s += (b % 36).toString(36);
  return s;
}

/** A random connection tag different from `previous`. */
export function randomTag(previous: number | undefined): number {
  const word = new Uint32Array(1);
  for (;;) {
    globalThis.crypto.getRandomValues(word);
    const tag = word[0]! % TAG_LIMIT;
    if (tag !== previous) return tag;
  }
}

function decodeString(raw: string): Frame | null {
  if (raw.charCodeAt(0) === DATAGRAM_LETTER) {
    if (raw.length < DATAGRAM_HEADER_CHARS) return null;
    const session = raw.slice(1, 1 + SESSION_CHARS);
    const counter = readBase36(raw, 1 + SESSION_CHARS, DATAGRAM_HEADER_CHARS);
    if (!SESSION.test(session) || counter < 1) return null;
    return { type: 'datagram', session, counter, payload: raw.slice(DATAGRAM_HEADER_CHARS) };
  }
  if (raw.length < 1 + TAG_CHARS) return null;
  const tag = readBase36(raw, 1, 1 + TAG_CHARS);
  if (tag < 0) return null;
  // Data frames first, read in place: they are nearly every frame, and their payload is the only part kept.
  if (raw.charCodeAt(0) === DATA_LETTER) {
    const colon = raw.indexOf(':', 1 + TAG_CHARS);
    if (colon < 0) return null;
    const seq = readBase36(raw, 1 + TAG_CHARS, colon);
    if (seq < 1) return null;
    return { type: 'data', tag, seq, payload: raw.slice(colon + 1) };
  }
  const rest = raw.slice(1 + TAG_CHARS);
  switch (raw[0]) {
    case 'h':
    case 'k': {
      const session = rest.slice(0, SESSION_CHARS);
      const [nText, windowText, extra] = rest.slice(SESSION_CHARS).split('.');
      const n = parseBase36(nText);
      const window = parseBase36(windowText);
      if (session.length !== SESSION_CHARS || n === null || window === null || window < 1 || extra !== undefined) return null;
      return { type: raw[0] === 'h' ? 'hello' : 'helloAck', tag, session, n, window };
    }
    case 'a': {
      const [cumText, ...rangeTexts] = rest.split(',');
      const cum = parseBase36(cumText);
      if (cum === null) return null;
      const ranges: Array<[number, number]> = [];
      for (const text of rangeTexts) {
        const [fromText, toText, extra] = text.split('-');
        const from = parseBase36(fromText);
        const to = toText === undefined ? from : parseBase36(toText);
        if (from === null || to === null || to < from || from <= cum || extra !== undefined) return null;
        ranges.push([from, to]);
      }
      return { type: 'ack', tag, cum, ranges };
    }
    case 'p':
    case 'c':
      if (rest.length !== 0) return null;
      return { type: raw[0] === 'p' ? 'probe' : 'close', tag };
    case 'x':
      if (rest.length === 0) return { type: 'reset', tag };
      if (!SESSION.test(rest)) return null;
      return { type: 'reset', tag, session: rest };
    default:
      return null;
  }
}

function decodeBinary(raw: Uint8Array): Frame | null {
  if (raw[0] === DATAGRAM_LETTER) return decodeBinaryDatagram(raw);
  if (raw.byteLength < 5 || raw[0] !== DATA_LETTER) return null;
  const tag = (raw[1]! << 16) | (raw[2]! << 8) | raw[3]!;
  if (tag >= TAG_LIMIT) return null;
  const varint = readVarint(raw, 4);
  if (varint === null || varint.value < 1) return null;
  return { type: 'data', tag, seq: varint.value, payload: raw.subarray(varint.end) };
}

function decodeBinaryDatagram(raw: Uint8Array): Frame | null {
  if (raw.byteLength < 2 + SESSION_CHARS) return null;
  const session = String.fromCharCode(...raw.subarray(1, 1 + SESSION_CHARS));
  const varint = readVarint(raw, 1 + SESSION_CHARS);
  if (!SESSION.test(session) || varint === null || varint.value < 1 || varint.value > MAX_DATAGRAM_COUNTER) return null;
  return { type: 'datagram', session, counter: varint.value, payload: raw.subarray(varint.end) };
}

function tagString(tag: number): string {
  return tag.toString(36).padStart(TAG_CHARS, '0');
}

function parseBase36(text: string | undefined): number | null {
  if (text === undefined) return null;
  const value = readBase36(text, 0, text.length);
  return value < 0 ? null : value;
}

/** The base-36 number (lower case, 1 to 11 digits) in `text[from, to)`; -1 when it is not one or not a safe integer. */
function readBase36(text: string, from: number, to: number): number {
  if (to <= from || to - from > MAX_DIGITS) return -1;
  let value = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    let digit: number;
    if (c >= 0x30 && c <= 0x39) digit = c - 0x30;
    else if (c >= 0x61 && c <= 0x7a) digit = c - 0x61 + 10;
    else return -1;
    value = value * 36 + digit;
  }
  return Number.isSafeInteger(value) ? value : -1;
}

// LEB128 with arithmetic rather than bit operations, which would truncate above 2^31.
function varintLength(value: number): number {
  let length = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    length++;
  }
  return length;
}

function writeVarint(target: Uint8Array, offset: number, value: number): void {
  while (value >= 0x80) {
    target[offset++] = (value % 0x80) | 0x80;
    value = Math.floor(value / 0x80);
  }
  target[offset] = value;
}

function readVarint(source: Uint8Array, offset: number): { value: number; end: number } | null {
  let value = 0;
  let scale = 1;
  for (let i = offset; i < source.byteLength && i < offset + 8; i++) {
    const byte = source[i]!;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return Number.isSafeInteger(value) ? { value, end: i + 1 } : null;
    scale *= 0x80;
  }
  return null;
}
