import { VnfError, isBinary, toUint8Array, utf8Length } from '@vnf/core';

/*
 * Every message on the inner endpoint is one frame, in the form of the message itself, so a MarshallerHub beneath
 * still sees strings, binary and JSON values and the app's own messages cost one character or byte:
 *   string   app: "\u0000" + payload              sub-protocol: "\u0001" + name + "\u0000" + payload
 *   binary   app: [0] + payload                   sub-protocol: [1][name length u8][name as UTF-8] + payload
 *   other    app: [0, value]                      sub-protocol: [1, name, value]        (JSON values, MarshallerHub)
 * Names never hold U+0000, so the first U+0000 after "\u0001" ends the name.
 */
const APP = 0;
const SUB = 1;
const APP_STRING = '\u0000';
const SUB_STRING = '\u0001';
const NAME_END = '\u0000';
const APP_BINARY_HEADER = Uint8Array.of(APP);

/** What an app message's frame adds to a string or binary payload. */
export const APP_HEADER_BYTES = 1;
/** Longest sub-protocol name, in UTF-16 code units (at most 192 bytes of UTF-8, so its length fits one byte). */
export const MAX_NAME_LENGTH = 64;
/** The largest sub-protocol header: the tag, the length byte (or the terminator) and the longest name. */
export const MAX_SUB_HEADER_BYTES = 2 + 3 * MAX_NAME_LENGTH;

const encoder = new TextEncoder();
// ignoreBOM keeps a leading U+FEFF: it is a character of the name, not a byte-order mark.
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Why a name is not a valid sub-protocol name, or `undefined` when it is. */
function nameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string') return `a ${name === null ? 'null' : typeof name}`;
  if (name.length === 0) return 'an empty string';
  if (name.length > MAX_NAME_LENGTH) return `a string ${name.length} characters long`;
  if (name.includes(NAME_END)) return 'a string holding U+0000';
  if (!isWellFormed(name)) return 'a string with a lone surrogate';
  return undefined;
}

/** Throws INVALID_ARGUMENT unless `name` is a valid sub-protocol name. */
export function validateSubProtocolName(name: unknown): asserts name is string {
  const problem = nameProblem(name);
  if (problem !== undefined) {
    throw new VnfError(
      'INVALID_ARGUMENT',
      `A sub-protocol name is a string of 1 to ${MAX_NAME_LENGTH} characters, without U+0000 or lone surrogates; got ${problem}.`,
      { details: { name: typeof name === 'string' ? name.slice(0, MAX_NAME_LENGTH + 1) : String(name) } },
    );
  }
}

/** Frames an app message. Binary is copied once, into the frame (so the sender may reuse its buffer). */
export function encodeApp(message: unknown): unknown {
  if (typeof message === 'string') return APP_STRING + message;
  if (isBinary(message)) return withHeader(APP_BINARY_HEADER, message);
  return [APP, message];
}

/** The frames of one sub-protocol: its headers are built once, when it is opened. */
export class ChannelCodec {
  /** What the frame adds to a string or binary payload. */
  readonly headerBytes: number;
  private readonly stringHeader: string;
  private readonly binaryHeader: Uint8Array;

  constructor(readonly name: string) {
    const nameBytes = encoder.encode(name);
    this.stringHeader = SUB_STRING + name + NAME_END;
    this.binaryHeader = new Uint8Array(2 + nameBytes.byteLength);
    this.binaryHeader[0] = SUB;
    this.binaryHeader[1] = nameBytes.byteLength;
    this.binaryHeader.set(nameBytes, 2);
    this.headerBytes = 2 + utf8Length(name);
  }

  encode(message: unknown): unknown {
    if (typeof message === 'string') return this.stringHeader + message;
    if (isBinary(message)) return withHeader(this.binaryHeader, message);
    return [SUB, this.name, message];
  }
}

function withHeader(header: Uint8Array, payload: Uint8Array | ArrayBuffer): Uint8Array {
  const bytes = toUint8Array(payload);
  const frame = new Uint8Array(header.byteLength + bytes.byteLength);
  frame.set(header);
  frame.set(bytes, header.byteLength);
  return frame;
}

/** A received frame: an app message (`name` null), a sub-protocol message, or why it is not a frame. */
export type Decoded = { name: string | null; payload: unknown; malformed?: undefined } | { malformed: string };

/** Reads a frame. Binary payloads are views into the received bytes, not copies. */
export function decodeFrame(message: unknown): Decoded {
  if (typeof message === 'string') return decodeString(message);
  if (isBinary(message)) return decodeBinary(toUint8Array(message));
  if (Array.isArray(message)) {
    if (message.length === 2 && message[0] === APP) return { name: null, payload: message[1] };
    if (message.length === 3 && message[0] === SUB && nameProblem(message[1]) === undefined) {
      return { name: message[1] as string, payload: message[2] };
    }
    return { malformed: 'an array that is neither [0, value] nor [1, name, value]' };
  }
  return { malformed: `a ${message === null ? 'null' : typeof message}` };
}

function decodeString(s: string): Decoded {
  const tag = s.charCodeAt(0);
  if (tag === APP) return { name: null, payload: s.slice(1) };
  if (tag !== SUB) return { malformed: s.length === 0 ? 'an empty string' : `a string starting with U+${hex(tag)}` };
  const end = s.indexOf(NAME_END, 1);
  if (end < 0) return { malformed: 'a sub-protocol string without the end of its name' };
  const name = s.slice(1, end);
  const problem = nameProblem(name);
  if (problem !== undefined) return { malformed: `a sub-protocol string whose name is ${problem}` };
  return { name, payload: s.slice(end + 1) };
}

function decodeBinary(bytes: Uint8Array): Decoded {
  if (bytes.byteLength === 0) return { malformed: 'empty binary' };
  if (bytes[0] === APP) return { name: null, payload: bytes.subarray(1) };
  if (bytes[0] !== SUB) return { malformed: `binary starting with byte ${bytes[0]}` };
  const end = 2 + (bytes.byteLength > 1 ? bytes[1] : 0);
  if (bytes.byteLength < end) return { malformed: 'sub-protocol binary shorter than its name' };
  let name: string;
  try {
    name = decoder.decode(bytes.subarray(2, end));
  } catch {
    return { malformed: 'sub-protocol binary whose name is not UTF-8' };
  }
  const problem = nameProblem(name);
  if (problem !== undefined) return { malformed: `sub-protocol binary whose name is ${problem}` };
  return { name, payload: bytes.subarray(end) };
}

function hex(code: number): string {
  return code.toString(16).toUpperCase().padStart(4, '0');
}

function isWellFormed(s: string): boolean {
  const native = (s as { isWellFormed?: () => boolean }).isWellFormed;
  return native ? native.call(s) : !/\p{Cs}/u.test(s);
}
