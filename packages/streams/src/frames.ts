import { isBinary, toUint8Array } from '@vnf/core';

/*
 * The frames PeerStreams exchange on their sub-protocol (the package README, Protocol). Control frames are JSON text;
 * data frames are binary: a type byte, the transfer's 16-byte id, the offset of their first byte (float64, big
 * endian), then the bytes. Every data frame names its offset, so a receiver accepts bytes only in order and asks for
 * the rest again when some went missing (a channel that broke beneath a relay fallback).
 */

/** A transfer id: 16 random bytes as 32 lowercase hex digits. */
export type TransferId = string;

export const DATA_FRAME = 0x01;
export const ID_BYTES = 16;
export const DATA_HEADER_BYTES = 1 + ID_BYTES + 8;

/** Longest name, type, reason and header text (in UTF-16 code units) a peer may send. */
export const MAX_NAME_LENGTH = 1024;
export const MAX_TYPE_LENGTH = 256;
export const MAX_HEADER_LENGTH = 16 * 1024;
export const MAX_REASON_LENGTH = 1024;

export type ControlFrame =
  /**
   * Sender: a new transfer. `secret` (32 hex bytes) proves a later resume; `size` null when unknown; `ack`: confirm
   * at least every this many bytes (the sender keeps what is unconfirmed), null for the receiver's own pace.
   */
  | { t: 'open'; id: TransferId; name: string; type: string; size: number | null; header: string | null; secret: string; ack: number | null }
  /** Receiver: it holds `got` bytes in order; the sender may send up to offset `limit`. `rewind`: resend from `got`. */
  | { t: 'credit'; id: TransferId; got: number; limit: number; rewind?: true }
  /** Sender: the last byte was sent; the whole stream is `size` bytes with this SHA-256 (hex). */
  | { t: 'end'; id: TransferId; size: number; sha256: string }
  /** Receiver: every byte arrived and the hash matched. */
  | { t: 'fin'; id: TransferId }
  /** Either side: the transfer ends here, with a stable code (CANCELLED, INTEGRITY, ...). */
  | { t: 'cancel'; id: TransferId; code: string; reason: string }
  /** Sender, on a new connection: continue transfer `id`; `nonce` is its challenge. */
  | { t: 'resume'; id: TransferId; nonce: string }
  /** Receiver: it holds `got` bytes; `mac` proves it knows the secret, `nonce` is its challenge. */
  | { t: 'resumeAt'; id: TransferId; got: number; nonce: string; mac: string }
  /** Sender: `mac` proves it knows the secret; data from `got` follows. */
  | { t: 'go'; id: TransferId; mac: string }
  /** Receiver: it has no such transfer (it restarted, or the resume came too late or from someone else). */
  | { t: 'gone'; id: TransferId }
  /** Sender: nothing heard from the receiver for a while; where is it? (a credit, a `fin`, a `cancel`, `lost` or `gone` answers) */
  | { t: 'ping'; id: TransferId }
  /** Receiver: its connection to the sender broke (the sender did not see it): resume on this one. */
  | { t: 'lost'; id: TransferId };

const HEX_ID = /^[0-9a-f]{32}$/;
const HEX_64 = /^[0-9a-f]{64}$/;

export function encodeControl(frame: ControlFrame): string {
  return JSON.stringify(frame);
}

/** Reads a control frame a peer sent; null when it is not one (the caller reports it). */
export function decodeControl(text: string): ControlFrame | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const f = value as Record<string, unknown>;
  if (typeof f.id !== 'string' || !HEX_ID.test(f.id)) return null;
  const id = f.id;
  switch (f.t) {
    case 'open':
      if (!boundedString(f.name, MAX_NAME_LENGTH) || !boundedString(f.type, MAX_TYPE_LENGTH)) return null;
      if (f.size !== null && !isOffset(f.size)) return null;
      if (f.header !== null && !boundedString(f.header, MAX_HEADER_LENGTH)) return null;
      if (typeof f.secret !== 'string' || !HEX_64.test(f.secret)) return null;
      if (f.ack !== null && (!isOffset(f.ack) || f.ack === 0)) return null;
      return { t: 'open', id, name: f.name, type: f.type, size: f.size, header: f.header, secret: f.secret, ack: f.ack };
    case 'credit':
      if (!isOffset(f.got) || !isOffset(f.limit)) return null;
      return f.rewind === true ? { t: 'credit', id, got: f.got, limit: f.limit, rewind: true } : { t: 'credit', id, got: f.got, limit: f.limit };
    case 'end':
      if (!isOffset(f.size) || typeof f.sha256 !== 'string' || !HEX_64.test(f.sha256)) return null;
      return { t: 'end', id, size: f.size, sha256: f.sha256 };
    case 'fin':
      return { t: 'fin', id };
    case 'cancel':
      if (!boundedString(f.code, 64) || !boundedString(f.reason, MAX_REASON_LENGTH)) return null;
      return { t: 'cancel', id, code: f.code, reason: f.reason };
    case 'resume':
      if (typeof f.nonce !== 'string' || !HEX_64.test(f.nonce)) return null;
      return { t: 'resume', id, nonce: f.nonce };
    case 'resumeAt':
      if (!isOffset(f.got) || typeof f.nonce !== 'string' || !HEX_64.test(f.nonce) || typeof f.mac !== 'string' || !HEX_64.test(f.mac)) return null;
      return { t: 'resumeAt', id, got: f.got, nonce: f.nonce, mac: f.mac };
    case 'go':
      if (typeof f.mac !== 'string' || !HEX_64.test(f.mac)) return null;
      return { t: 'go', id, mac: f.mac };
    case 'gone':
      return { t: 'gone', id };
    case 'ping':
      return { t: 'ping', id };
    case 'lost':
      return { t: 'lost', id };
    default:
      return null;
  }
}

/** One data frame: header and bytes in one buffer (the channel copies it once more into its own frame). */
export function encodeData(idBytes: Uint8Array, offset: number, bytes: Uint8Array): Uint8Array {
  const frame = new Uint8Array(DATA_HEADER_BYTES + bytes.byteLength);
  frame[0] = DATA_FRAME;
  frame.set(idBytes, 1);
  new DataView(frame.buffer, frame.byteOffset + 1 + ID_BYTES, 8).setFloat64(0, offset);
  frame.set(bytes, DATA_HEADER_BYTES);
  return frame;
}

export interface DataFrame {
  id: TransferId;
  offset: number;
  bytes: Uint8Array;
}

/** Reads a data frame; null when it is not one. `bytes` is a view into the frame (no copy). */
export function decodeData(message: unknown): DataFrame | null {
  if (!isBinary(message)) return null;
  const frame = toUint8Array(message);
  if (frame.byteLength < DATA_HEADER_BYTES || frame[0] !== DATA_FRAME) return null;
  const offset = new DataView(frame.buffer, frame.byteOffset + 1 + ID_BYTES, 8).getFloat64(0);
  if (!isOffset(offset)) return null;
  return { id: toHex(frame.subarray(1, 1 + ID_BYTES)), offset, bytes: frame.subarray(DATA_HEADER_BYTES) };
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i]!];
  return out;
}

export function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function isOffset(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function boundedString(value: unknown, max: number): value is string {
  return typeof value === 'string' && value.length <= max;
}
