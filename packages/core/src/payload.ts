import { VnfError } from './errors';

/** What wire hubs carry: a string or binary. Binary is delivered as a `Uint8Array`. */
export type Payload = string | Uint8Array | ArrayBuffer;

/** True when `value` is binary that VNF carries (any Uint8Array, Node Buffer included, or an ArrayBuffer). */
export function isBinary(value: unknown): value is Uint8Array | ArrayBuffer {
  return value instanceof Uint8Array || value instanceof ArrayBuffer;
}

/** Size in bytes of a payload on the wire (strings counted as UTF-8). */
export function payloadByteLength(payload: Payload): number {
  if (typeof payload === 'string') return utf8Length(payload);
  return payload.byteLength;
}

/** Buffer.byteLength where there is one (Node): it counts a lone surrogate as 3 bytes, as the loop does. */
const nativeByteLength = (globalThis as { Buffer?: { byteLength(s: string, encoding: 'utf8'): number } }).Buffer?.byteLength;

/** UTF-8 length of a string without encoding it (the hot path must not allocate). */
export function utf8Length(s: string): number {
  // Node's native count: the JS loop below costs a broker a measurable share of its CPU on large registry values.
  if (nativeByteLength) return nativeByteLength(s, 'utf8');
  let bytes = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4; // a surrogate pair
      i++;
    } else bytes += 3; // BMP, or a lone surrogate (encoded as U+FFFD)
  }
  return bytes;
}

/** Node's Buffer, where there is one: its `toString` decodes UTF-8 about twice as fast as TextDecoder's fatal mode. */
const NodeBuffer = (globalThis as { Buffer?: { isBuffer(value: unknown): boolean } }).Buffer;
/** What a Node Buffer adds to a Uint8Array that decodeUtf8 uses. */
type NodeBufferView = { toString(encoding: 'utf8', start: number, end: number): string };
/** Byte for byte: a leading U+FEFF is kept (the default decoder would strip it), and bytes that are not UTF-8 throw. */
const strictDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * `bytes[start, end)` decoded as UTF-8, exactly: a leading U+FEFF is kept, and bytes that are not UTF-8 throw a
 * TypeError (as TextDecoder's fatal mode does) instead of becoming U+FFFD. In Node a Buffer goes through
 * `Buffer#toString`, which replaces bad bytes with U+FFFD, and is decoded again strictly only when the result holds
 * a U+FFFD (then genuine or a replacement); a one-byte string cannot hold one, which V8 answers without a scan.
 */
export function decodeUtf8(bytes: Uint8Array, start = 0, end = bytes.byteLength): string {
  if (NodeBuffer !== undefined && NodeBuffer.isBuffer(bytes)) {
    const text = (bytes as unknown as NodeBufferView).toString('utf8', start, end);
    if (text.indexOf('\uFFFD') === -1) return text;
  }
  return strictDecoder.decode(bytes.subarray(start, end));
}

/**
 * True when `s` is well-formed UTF-16: every surrogate is half of a pair. Only such strings survive UTF-8 as
 * they are; each lone surrogate would become U+FFFD.
 */
export function isWellFormedString(s: string): boolean {
  return nativeIsWellFormed ? nativeIsWellFormed.call(s) : loneSurrogateAt(s) < 0;
}

/** String.prototype.isWellFormed (ES2024), looked up once: the send path checks every string. */
const nativeIsWellFormed = (String.prototype as { isWellFormed?: (this: string) => boolean }).isWellFormed;

/** Index of the first lone surrogate in `s`, or -1. */
function loneSurrogateAt(s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c & 0xf800) !== 0xd800) continue; // not a surrogate
    if (c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) i++;
    else return i;
  }
  return -1;
}

/** `U+D800 at index 3`, for error messages about a string that is not well-formed. */
export function describeLoneSurrogate(s: string): string {
  const at = loneSurrogateAt(s);
  return `U+${s.charCodeAt(at).toString(16).toUpperCase()} at index ${at}`;
}

/**
 * Checks that `payload` is a wire payload no larger than `maxBytes`.
 * Throws INVALID_PAYLOAD or TOO_LARGE at the call, so errors never surface downstream.
 */
export function validateWirePayload(payload: unknown, maxBytes: number): asserts payload is Payload {
  if (typeof payload !== 'string' && !isBinary(payload)) {
    const kind = payload === null ? 'null' : Array.isArray(payload) ? 'array' : typeof payload;
    throw new VnfError(
      'INVALID_PAYLOAD',
      `This hub carries strings and binary (Uint8Array/ArrayBuffer), not ${kind}. ` +
        'Wrap the hub in a MarshallerHub to send JSON values, or serialize the value yourself.',
    );
  }
  if (typeof payload === 'string' && !isWellFormedString(payload)) {
    throw new VnfError(
      'INVALID_PAYLOAD',
      `This string is not well-formed UTF-16 (a lone surrogate, ${describeLoneSurrogate(payload)}), so it would be changed on the wire: ` +
        'UTF-8 turns each lone surrogate into U+FFFD. Fix the string, or wrap the hub in a MarshallerHub, which carries it as a JSON escape.',
    );
  }
  // A string of n UTF-16 units takes at most 3n bytes of UTF-8: only a string that could be too large is counted.
  if (typeof payload === 'string' ? payload.length * 3 <= maxBytes : false) return;
  const size = payloadByteLength(payload);
  if (size > maxBytes) {
    throw new VnfError(
      'TOO_LARGE',
      `Payload of ${size} bytes exceeds this hub's limit of ${maxBytes} bytes. ` +
        'Wrap the hub in a MarshallerHub to chunk large messages.',
      { details: { size, limit: maxBytes } },
    );
  }
}

/** A private copy of binary as a plain Uint8Array, so a sender mutating its buffer cannot change what was sent. */
export function copyBinary(data: Uint8Array | ArrayBuffer): Uint8Array {
  const view = data instanceof ArrayBuffer ? new Uint8Array(data) : data;
  const copy = new Uint8Array(view.byteLength);
  copy.set(view);
  return copy;
}

/** A plain Uint8Array view of binary (no copy): Node Buffers and ArrayBuffers become Uint8Array. */
export function toUint8Array(data: Uint8Array | ArrayBuffer): Uint8Array {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (Object.getPrototypeOf(data) === Uint8Array.prototype) return data;
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
