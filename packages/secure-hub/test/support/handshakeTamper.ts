// What a broker (or the proxy in front of it) can find of SecureHub's records in its clients' frames, to rewrite them.
//
// Over `SecureHub(WebSocketHub)` every SecureHub record is the payload of one broker BINARY record. Over
// `SecureHub(ReliableRtcHub(WebSocketHub))` on the relay path it is nested: the broker BINARY payload is an RtcHub data
// frame (records `kind u8 | length u32 | bytes`, kind 1 binary), whose binary record is a ReliableHub DATA frame
// (`0x64 | tag: 3 | seq: LEB128 | payload`), whose payload is the SecureHub record.
import { BrokerKind, brokerRecords, type FrameTamper, type WsFrame } from './recordingProxy';

/** Where the SecureHub records sit in a broker BINARY payload (offset and length in that payload). */
export type RecordLocator = (payload: Buffer) => Array<{ offset: number; length: number }>;

/** `SecureHub(WebSocketHub)`: the payload is the record. */
export const directlyOverBroker: RecordLocator = (payload) => [{ offset: 0, length: payload.length }];

/** `SecureHub(ReliableRtcHub(WebSocketHub))`, relayed: inside ReliableHub DATA frames inside an RtcHub data frame. */
export const insideRelayedRtcFrames: RecordLocator = (payload) => {
  const found: Array<{ offset: number; length: number }> = [];
  let at = 0;
  while (at + 5 <= payload.length) {
    const kind = payload[at]!;
    const length = payload.readUInt32BE(at + 1);
    const start = at + 5;
    if (start + length > payload.length) return []; // not an RtcHub data frame
    if (kind === 1 && length > 4 && payload[start] === 0x64) {
      let seqEnd = start + 4;
      while (seqEnd < start + length && payload[seqEnd]! & 0x80) seqEnd++;
      seqEnd++;
      if (seqEnd < start + length) found.push({ offset: seqEnd, length: start + length - seqEnd });
    }
    at = start + length;
  }
  return found;
};

export interface RecordTamper {
  readonly tamper: FrameTamper;
  /** What was changed, one line per record. */
  readonly changed: string[];
}

/**
 * Flips one random bit of the Noise message (past the 5-byte header: type and handshake id) of the first handshake
 * record of `type` (1, 2 or 3) that crosses the proxy toward the broker.
 */
export function tamperHandshake(type: 1 | 2 | 3, locate: RecordLocator, evas: readonly string[]): RecordTamper {
  const changed: string[] = [];
  const tamper: FrameTamper = (frame: WsFrame) => {
    if (changed.length > 0 || frame.direction !== 'up' || frame.opcode !== 2 || !evas.includes(frame.connection.eva ?? '')) return undefined;
    for (const record of brokerRecords(frame.payload)) {
      if (record.kind !== BrokerKind.BINARY) continue;
      for (const { offset, length } of locate(record.payload)) {
        const at = record.offset + offset;
        if (frame.payload[at] !== type || length <= 5 + 8) continue;
        const body = length - 5;
        const bit = Math.floor(Math.random() * body * 8);
        const copy = Buffer.from(frame.payload);
        copy[at + 5 + (bit >> 3)]! ^= 1 << (bit & 7);
        changed.push(`message ${type} (${length} bytes) from ${frame.connection.eva} to ${record.eva}: bit ${bit & 7} of byte ${5 + (bit >> 3)}`);
        return copy;
      }
    }
    return undefined;
  };
  return { tamper, changed };
}

/**
 * Flips one random bit of the ciphertext (past the 17-byte header) of the first SecureHub transport record of at
 * least `minLength` bytes that `eva` sends toward the broker: over `SecureHub(WebSocketHub)` beneath RtcHub, the
 * record that carries its SDP offer or answer (the DTLS fingerprint inside), which the proxy cannot read.
 */
export function tamperTransport(eva: string, minLength: number): RecordTamper {
  const changed: string[] = [];
  const tamper: FrameTamper = (frame: WsFrame) => {
    if (changed.length > 0 || frame.direction !== 'up' || frame.opcode !== 2 || frame.connection.eva !== eva) return undefined;
    for (const record of brokerRecords(frame.payload)) {
      if (record.kind !== BrokerKind.BINARY || record.payload[0] !== 4 || record.payload.length < minLength) continue;
      const body = record.payload.length - 17;
      const bit = Math.floor(Math.random() * body * 8);
      const copy = Buffer.from(frame.payload);
      copy[record.offset + 17 + (bit >> 3)]! ^= 1 << (bit & 7);
      changed.push(`transport record (${record.payload.length} bytes) from ${eva} to ${record.eva}: bit ${bit & 7} of byte ${17 + (bit >> 3)}`);
      return copy;
    }
    return undefined;
  };
  return { tamper, changed };
}

/**
 * Rewrites one hex digit of every `a=fingerprint` line of the SDP that RtcHub's signaling carries in clear through
 * the broker (broker TEXT records `vnf-rtc/1 {"t":"signal",…}`: placement 1, where RtcHub is beneath SecureHub), so
 * the DTLS of every data channel attempt fails its fingerprint check.
 */
export function tamperSdpFingerprints(evas: readonly string[]): RecordTamper {
  const changed: string[] = [];
  const tamper: FrameTamper = (frame: WsFrame) => {
    if (frame.direction !== 'up' || frame.opcode !== 2 || !evas.includes(frame.connection.eva ?? '')) return undefined;
    let copy: Buffer | undefined;
    for (const record of brokerRecords(frame.payload)) {
      if (record.kind !== BrokerKind.TEXT) continue;
      const text = record.payload.toString('latin1');
      for (let at = text.indexOf('a=fingerprint:'); at >= 0; at = text.indexOf('a=fingerprint:', at + 1)) {
        const digit = text.indexOf(' ', at) + 1; // "a=fingerprint:sha-256 AB:CD:…": the first digit of the hash
        copy ??= Buffer.from(frame.payload);
        const was = text[digit]!;
        copy[record.offset + digit] = (was === '0' ? '1' : '0').charCodeAt(0);
        changed.push(`${text.slice(at, digit + 2)}… (${was} → ${String.fromCharCode(copy[record.offset + digit]!)}) from ${frame.connection.eva} to ${record.eva}`);
      }
    }
    return copy;
  };
  return { tamper, changed };
}
