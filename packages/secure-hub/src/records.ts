import { VnfError, toUint8Array } from '@vnf/core';
import { TAG_LENGTH } from './CipherState';
import type { GroupFault } from './ReceivedKeys';
import type { RecordFault } from './TransportSession';

/**
 * The records SecureHub hands its inner endpoint, each one binary message (docs in the README, "Wire format"):
 *
 * - handshake `[type 1|2|3][handshake id: 4][Noise message]` — the three messages of XX;
 * - refusal `[5][handshake id: 4][reason, UTF-8]` — "I will not finish this handshake" (unauthenticated: a hint);
 * - transport `[4][session id: 4][epoch: 4][counter: 8][ciphertext]`, the 17-byte header being the AEAD's
 *   associated data, so none of it can be changed unseen. The counter is the Noise nonce, explicit;
 * - group `[6][sender key id: 4][counter: 8][ciphertext][Ed25519 signature: 64, when the key is signed]`: one
 *   multicast's messages under the sender key of its targets (SenderKeys), the 13-byte header the associated data,
 *   the signature over header and ciphertext.
 */
export const RecordType = { msg1: 1, msg2: 2, msg3: 3, transport: 4, refuse: 5, group: 6 } as const;

/**
 * What a transport record's plaintext starts with. `senderKey` `[6][key id: 4][flags: 1][key: 32][verify key: 32]`
 * hands a peer the key of the groups it is in (flag 1: records under it are signed, and the verify key follows);
 * `senderKeyRequest` `[7][key id: 4]` asks for one a group record named and the receiver does not hold; `batch`
 * `[8]([length: 4][plaintext])…` carries the messages of one turn to one peer (Outbox), each as it would travel alone.
 */
export const Kind = { string: 0, binary: 1, ready: 2, stringAcked: 3, binaryAcked: 4, ack: 5, senderKey: 6, senderKeyRequest: 7, batch: 8 } as const;

export const GROUP_HEADER = 13;
/** Bytes each message adds inside a group record's plaintext: its kind and its length. */
export const GROUP_ENTRY_HEADER = 5;

/** Bytes of the acknowledgement id after the kind byte of an acknowledged message (`Kind.*Acked`) or an `ack`. */
export const ACK_ID_BYTES = 4;

export const HANDSHAKE_HEADER = 5;
export const TRANSPORT_HEADER = 17;
/** Bytes a transport record adds to a message: header, kind byte and Poly1305 tag. */
export const RECORD_OVERHEAD = TRANSPORT_HEADER + 1 + TAG_LENGTH;

export interface TransportHeader {
  readonly session: number;
  readonly epoch: number;
  readonly counter: bigint;
}

export function encodeHandshake(type: number, id: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(HANDSHAKE_HEADER + body.length);
  out[0] = type;
  new DataView(out.buffer).setUint32(1, id);
  out.set(body, HANDSHAKE_HEADER);
  return out;
}

export function transportHeader(session: number, epoch: number, counter: bigint): Uint8Array {
  const header = new Uint8Array(TRANSPORT_HEADER);
  const view = new DataView(header.buffer);
  header[0] = RecordType.transport;
  view.setUint32(1, session);
  view.setUint32(5, epoch);
  view.setBigUint64(9, counter);
  return header;
}

export function readTransportHeader(record: Uint8Array): TransportHeader {
  const view = new DataView(record.buffer, record.byteOffset, record.byteLength);
  return { session: view.getUint32(1), epoch: view.getUint32(5), counter: view.getBigUint64(9) };
}

/** The handshake id (or session id) of a record long enough to have one. */
export function recordId(record: Uint8Array): number {
  return new DataView(record.buffer, record.byteOffset, record.byteLength).getUint32(1);
}

/** A random 32-bit id for a handshake, which is also the session id of its records. */
export function randomId(): number {
  const bytes = new Uint8Array(4);
  globalThis.crypto.getRandomValues(bytes);
  return new DataView(bytes.buffer).getUint32(0);
}

/**
 * The Noise prologue of a handshake: a label, the handshake id and both evas (initiator first), so a handshake
 * between two evas cannot be replayed or spliced into another pair's (the broker stamps who speaks; the handshake
 * then proves it).
 */
export function handshakePrologue(initiatorEva: string, responderEva: string, id: number): Uint8Array {
  const encoder = new TextEncoder();
  const a = encoder.encode(initiatorEva);
  const b = encoder.encode(responderEva);
  const label = encoder.encode('vnf-secure-hub/1');
  const out = new Uint8Array(label.length + 4 + 2 + a.length + 2 + b.length);
  const view = new DataView(out.buffer);
  out.set(label);
  let at = label.length;
  view.setUint32(at, id);
  at += 4;
  view.setUint16(at, a.length);
  out.set(a, at + 2);
  at += 2 + a.length;
  view.setUint16(at, b.length);
  out.set(b, at + 2);
  return out;
}

/** The messages of a group record's plaintext (`[kind: 1][length: 4][bytes]` each, views into it); null when cut short. */
export function groupEntries(plaintext: Uint8Array): Array<{ kind: number; body: Uint8Array }> | null {
  const view = new DataView(plaintext.buffer, plaintext.byteOffset, plaintext.byteLength);
  const entries: Array<{ kind: number; body: Uint8Array }> = [];
  let at = 0;
  while (at < plaintext.length) {
    if (plaintext.length - at < GROUP_ENTRY_HEADER) return null;
    const end = at + GROUP_ENTRY_HEADER + view.getUint32(at + 1);
    if (end > plaintext.length) return null;
    entries.push({ kind: plaintext[at], body: plaintext.subarray(at + GROUP_ENTRY_HEADER, end) });
    at = end;
  }
  return entries;
}

/** Why a record was refused, as an INTEGRITY error says it. */
export const FAULTS: Record<RecordFault | GroupFault, string> = {
  session: 'it belongs to another session',
  sequence: 'a record is missing before it, or it was moved ahead',
  replay: 'its counter was used already: a replay, or moved back',
  epoch: 'its key epoch is not the current one',
  tag: 'its authentication tag does not verify: tampered or forged',
  short: 'too short to be a record',
  signature: 'its signature does not verify: the sender did not make it (another member of the group, or something beneath, forged it)',
};

/** A refused record's header, for the log and the error. */
export function describeHeader(record: Uint8Array): string {
  const view = new DataView(record.buffer, record.byteOffset, record.byteLength);
  if (record[0] === RecordType.group) return `sender key ${view.getUint32(1)}, counter ${view.getBigUint64(5)}`;
  const header = readTransportHeader(record);
  return `session ${header.session}, epoch ${header.epoch}, counter ${header.counter}`;
}

const encoder = new TextEncoder();

/** The plaintext of one message: its kind, the `sendAcknowledged` id when it carries one, and its bytes. */
export function messagePlaintext(message: string | Uint8Array | ArrayBuffer, ackId: number | null): Uint8Array {
  const isText = typeof message === 'string';
  const head = ackId === null ? 1 : 1 + ACK_ID_BYTES;
  let plaintext: Uint8Array;
  if (isText && message.length <= SHORT_STRING) {
    // Encoded in place (at most 3 bytes a UTF-16 unit): one allocation, no copy.
    const room = new Uint8Array(head + message.length * 3);
    plaintext = room.subarray(0, head + encoder.encodeInto(message, room.subarray(head)).written);
  } else {
    const body = isText ? encoder.encode(message) : toUint8Array(message);
    plaintext = new Uint8Array(head + body.length);
    plaintext.set(body, head);
  }
  if (ackId === null) plaintext[0] = isText ? Kind.string : Kind.binary;
  else {
    plaintext[0] = isText ? Kind.stringAcked : Kind.binaryAcked;
    new DataView(plaintext.buffer, plaintext.byteOffset).setUint32(1, ackId);
  }
  return plaintext;
}

/** Strings up to this many UTF-16 units are encoded straight into their plaintext. */
const SHORT_STRING = 1024;

/** The error of a record from `peer` that failed its check over an ordered inner hub: the connection ends. */
export function integrityError(eva: string, peer: string, fault: RecordFault | GroupFault): VnfError {
  return new VnfError(
    'INTEGRITY',
    `A record from ${peer} to ${eva} failed its check (${FAULTS[fault]}), so the connection was ended: something beneath ` +
      'SecureHub changed, repeated, reordered or forged it. Open a new connection; if it keeps happening, the path is under attack ' +
      '(or the inner hub loses or reorders: then use { ordered: false }).',
    { details: { eva, sourceEva: peer, fault } },
  );
}
