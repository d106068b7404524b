import { VnfError, isBinary, toUint8Array } from '@vnf/core';
import { protocolError } from './frames';

/*
 * A message body starts with its kind:
 *   STRING  [0][UTF-8]                                   a top-level string (well-formed: no lone surrogates)
 *   BINARY  [1][bytes]                                   a top-level Uint8Array/ArrayBuffer
 *   JSON    [2][JSON as UTF-8]                           any other value, without binary inside
 *   MIXED   [3][count u32][length u32 × count][JSON][binary 0][binary 1]…
 * In MIXED, binary never goes through JSON: each one is replaced by the string "\0<index>" and its bytes follow
 * the JSON. User strings that start with "\0" get one more "\0" in front (and force MIXED), so they cannot pose as
 * a placeholder; values without either parse without a reviver.
 * A message's size, checked against maxMessageSize, is its body without the kind byte: so a string of exactly
 * maxMessageSize UTF-8 bytes, or binary of exactly maxMessageSize bytes, is carried.
 */
const Kind = { STRING: 0, BINARY: 1, JSON: 2, MIXED: 3 } as const;
/** The kind byte, which the size limit does not count. */
export const BODY_OVERHEAD = 1;
const NUL = '\u0000';

/** A serialized message as a list of byte ranges (binary parts are the sender's own bytes, not copies). */
export interface EncodedMessage {
  parts: Uint8Array[];
  /** Body bytes, kind byte included. */
  size: number;
}

const encoder = new TextEncoder();
// ignoreBOM keeps a leading U+FEFF of a STRING body: it is the user's character, not a byte-order mark.
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const KIND_BYTES = [Kind.STRING, Kind.BINARY, Kind.JSON].map((kind) => Uint8Array.of(kind));

/** Serializes `value`; throws INVALID_PAYLOAD for values JSON cannot carry faithfully and TOO_LARGE above `maxSize`. */
export function encodeMessage(value: unknown, maxSize: number): EncodedMessage {
  if (isBinary(value)) {
    const bytes = toUint8Array(value);
    checkSize(bytes.byteLength, maxSize);
    return { parts: [KIND_BYTES[Kind.BINARY], bytes], size: BODY_OVERHEAD + bytes.byteLength };
  }
  if (typeof value === 'string' && isWellFormed(value)) {
    // A UTF-8 string is never shorter than its UTF-16 length, so this rejects before encoding a huge string.
    checkSize(value.length, maxSize);
    const bytes = encoder.encode(value);
    checkSize(bytes.byteLength, maxSize);
    return { parts: [KIND_BYTES[Kind.STRING], bytes], size: BODY_OVERHEAD + bytes.byteLength };
  }
  return encodeJson(value, maxSize);
}

function encodeJson(value: unknown, maxSize: number): EncodedMessage {
  const binaries: Uint8Array[] = [];
  let mixed = false;
  function replacer(this: unknown, _key: string, v: unknown): unknown {
    switch (typeof v) {
      case 'string':
        if (v.charCodeAt(0) !== 0) return v;
        mixed = true;
        return NUL + v;
      case 'number':
        if (!Number.isFinite(v)) throw invalid(`the number ${v} (JSON has no NaN or Infinity)`);
        return v;
      case 'boolean':
        return v;
      case 'object':
        if (v === null) return v;
        if (isBinary(v)) {
          mixed = true;
          binaries.push(toUint8Array(v));
          return NUL + (binaries.length - 1);
        }
        return shieldBinaries(checkObject(v));
      case 'undefined':
        // An undefined property is left out, as JSON.stringify does (optional fields); an array element cannot be.
        if (Array.isArray(this)) throw invalid('undefined as an array element (use null)');
        return undefined;
      default:
        throw invalid(`a ${typeof v}`);
    }
  }

  if (value === undefined) throw invalid('undefined (send null instead)');
  let json: string | undefined;
  try {
    // JSON.stringify without a replacer stays in V8's fast serializer, several times faster than calling into
    // the replacer for every value: take it whenever a walk finds nothing the replacer would change or refuse.
    json = isPlainJson(value, 0) ? JSON.stringify(value) : JSON.stringify(value, replacer);
  } catch (err) {
    if (VnfError.is(err)) throw err;
    throw invalid('a value JSON cannot serialize: it is cyclic, too deeply nested or too large', err);
  }
  if (json === undefined) throw invalid('a value whose toJSON returned undefined');

  if (!mixed) {
    checkSize(json.length, maxSize);
    const bytes = encoder.encode(json);
    checkSize(bytes.byteLength, maxSize);
    return { parts: [KIND_BYTES[Kind.JSON], bytes], size: BODY_OVERHEAD + bytes.byteLength };
  }
  const tableSize = 4 + 4 * binaries.length;
  let binarySize = 0;
  for (const b of binaries) binarySize += b.byteLength;
  checkSize(tableSize + json.length + binarySize, maxSize);
  const jsonBytes = encoder.encode(json);
  const size = tableSize + jsonBytes.byteLength + binarySize;
  checkSize(size, maxSize);
  const header = new Uint8Array(BODY_OVERHEAD + tableSize);
  const view = new DataView(header.buffer);
  header[0] = Kind.MIXED;
  view.setUint32(1, binaries.length);
  binaries.forEach((b, i) => view.setUint32(5 + 4 * i, b.byteLength));
  return { parts: [header, jsonBytes, ...binaries], size: BODY_OVERHEAD + size };
}

/** Nesting beyond this takes the replacer path (which reports a cycle or a too deep value precisely). */
const MAX_PLAIN_DEPTH = 1000;

/**
 * True when plain JSON.stringify(value) gives exactly what the replacer above gives: only finite numbers, strings
 * not starting with NUL, booleans, null, arrays without undefined elements or holes, and objects with no toJSON
 * and no binary, Map, Set or typed array anywhere inside. Anything else answers false (never throws): the replacer
 * path then carries it or names what it cannot carry.
 */
export function isPlainJson(value: unknown, depth: number): boolean {
  return typeof value === 'object' && value !== null ? isPlainContainer(value, depth) : isPlainLeaf(value, false) === true;
}

/**
 * A non-object `v`: true when plain, false when not. An object: undefined, to be walked. Leaves are checked inline by
 * the container walk, without a call per value: most of a large message's values are leaves.
 */
function isPlainLeaf(v: unknown, inObject: boolean): boolean | undefined {
  switch (typeof v) {
    case 'string':
      return v.charCodeAt(0) !== 0; // NaN for '', which is plain
    case 'number':
      return Number.isFinite(v);
    case 'boolean':
      return true;
    case 'undefined':
      // An undefined property is left out by both paths; an undefined array element is not plain.
      return inObject;
    case 'object':
      return v === null ? true : undefined;
    default:
      return false;
  }
}

function isPlainContainer(value: object, depth: number): boolean {
  if (depth >= MAX_PLAIN_DEPTH || typeof (value as { toJSON?: unknown }).toJSON === 'function') return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const child: unknown = value[i];
      const leaf = isPlainLeaf(child, false);
      if (leaf === false || (leaf === undefined && !isPlainContainer(child as object, depth + 1))) return false;
    }
    return true;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false; // class instances, Map, Set, binary: the replacer decides
  for (const key in value) {
    if (!Object.prototype.hasOwnProperty.call(value, key)) continue;
    const child = (value as Record<string, unknown>)[key];
    const leaf = isPlainLeaf(child, true);
    if (leaf === false || (leaf === undefined && !isPlainContainer(child as object, depth + 1))) return false;
  }
  return true;
}

/** Reads a message body; throws PROTOCOL when it is malformed. Binary comes back as views into `body`. */
export function decodeMessage(body: Uint8Array): unknown {
  switch (body.byteLength > 0 ? body[0] : -1) {
    case Kind.STRING:
      return utf8(body.subarray(BODY_OVERHEAD), 'string');
    case Kind.BINARY:
      return body.subarray(BODY_OVERHEAD);
    case Kind.JSON:
      return parseJson(utf8(body.subarray(BODY_OVERHEAD), 'JSON'));
    case Kind.MIXED:
      return decodeMixed(body);
    default:
      throw protocolError(body.byteLength === 0 ? 'an empty message body' : `a message body of unknown kind ${body[0]}`);
  }
}

function decodeMixed(body: Uint8Array): unknown {
  if (body.byteLength < 5) throw protocolError('a message body shorter than its header');
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const count = view.getUint32(1);
  const jsonStart = 5 + 4 * count;
  if (jsonStart > body.byteLength) throw protocolError('a message body announcing more binary parts than it holds');
  let binarySize = 0;
  for (let i = 0; i < count; i++) binarySize += view.getUint32(5 + 4 * i);
  const jsonEnd = body.byteLength - binarySize;
  if (jsonEnd < jsonStart) throw protocolError('a message body shorter than its binary parts');
  const binaries: Uint8Array[] = [];
  for (let i = 0, offset = jsonEnd; i < count; i++) {
    const length = view.getUint32(5 + 4 * i);
    binaries.push(body.subarray(offset, offset + length));
    offset += length;
  }
  const reviver = (_key: string, v: unknown): unknown => {
    if (typeof v !== 'string' || v.charCodeAt(0) !== 0) return v;
    if (v.charCodeAt(1) === 0) return v.slice(1);
    const index = Number(v.slice(1));
    if (!Number.isInteger(index) || index < 0 || index >= count) throw protocolError('a reference to a missing binary part');
    return binaries[index];
  };
  return parseJson(utf8(body.subarray(jsonStart, jsonEnd), 'JSON'), reviver);
}

function utf8(bytes: Uint8Array, what: string): string {
  try {
    return decoder.decode(bytes);
  } catch {
    throw protocolError(`a ${what} that is not valid UTF-8`);
  }
}

function parseJson(text: string, reviver?: (key: string, value: unknown) => unknown): unknown {
  try {
    return JSON.parse(text, reviver);
  } catch (err) {
    if (VnfError.is(err)) throw err;
    throw protocolError('a message body that is not valid JSON');
  }
}

/** UTF-8 cannot carry lone surrogates; such strings travel as JSON, whose escapes keep them intact. */
function isWellFormed(s: string): boolean {
  const native = (s as { isWellFormed?: () => boolean }).isWellFormed;
  return native ? native.call(s) : !/\p{Cs}/u.test(s);
}

function checkObject(v: object): object {
  if (v instanceof Map || v instanceof Set || v instanceof WeakMap || v instanceof WeakSet) {
    throw invalid(`a ${v.constructor.name} (JSON would turn it into {}; convert it to an array or object)`);
  }
  if (ArrayBuffer.isView(v) || (typeof SharedArrayBuffer === 'function' && v instanceof SharedArrayBuffer)) {
    throw invalid(`a ${v.constructor.name} (only Uint8Array and ArrayBuffer are carried as binary; wrap the bytes in a Uint8Array)`);
  }
  return v;
}

/**
 * JSON.stringify calls a value's toJSON before the replacer sees it, and Node's Buffer.toJSON turns the bytes into
 * an array of numbers (a 100 MB Buffer would become 100 million array elements). So a container holding such
 * binary is replaced, before its children are visited, by a shallow copy holding plain Uint8Array views instead.
 */
function shieldBinaries(container: object): object {
  if (Array.isArray(container)) {
    let copy: unknown[] | null = null;
    for (let i = 0; i < container.length; i++) {
      if (hasToJsonBinary(container[i])) (copy ??= container.slice())[i] = toUint8Array(container[i]);
    }
    return copy ?? container;
  }
  let copy: Record<string, unknown> | null = null;
  for (const key of Object.keys(container)) {
    const child = (container as Record<string, unknown>)[key];
    if (hasToJsonBinary(child)) (copy ??= { ...container })[key] = toUint8Array(child);
  }
  return copy ?? container;
}

function hasToJsonBinary(v: unknown): v is Uint8Array {
  return v instanceof Uint8Array && typeof (v as { toJSON?: unknown }).toJSON === 'function';
}

function checkSize(size: number, maxSize: number): void {
  if (size > maxSize) {
    throw new VnfError(
      'TOO_LARGE',
      `The message is ${size} bytes serialized, over this MarshallerHub's maxMessageSize of ${maxSize} bytes. ` +
        'Split it into smaller messages or raise maxMessageSize on both sides.',
      { details: { size, limit: maxSize } },
    );
  }
}

function invalid(what: string, cause?: unknown): VnfError {
  return new VnfError(
    'INVALID_PAYLOAD',
    `MarshallerHub cannot send ${what}. It carries JSON values (finite numbers, strings, booleans, null, arrays, objects) ` +
      'with Uint8Array/ArrayBuffer anywhere inside.',
    cause === undefined ? undefined : { cause },
  );
}
