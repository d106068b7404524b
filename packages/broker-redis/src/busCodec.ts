import type { BusMessage, RecordKind } from '@vnf/protocol';

/*
 * How bus messages travel in one Redis stream entry: a batch, each message a tag byte and then its fields. A relayed
 * record (the hot path) is binary — its strings length-prefixed, its payload as is — so that relaying costs no JSON
 * and no base64; the rare control messages are JSON.
 */
const RECORD = 1;
const RECORD_FAN_OUT = 2;
const CONTROL = 3;

/** Bytes a batch may grow to before a new stream entry is started (Redis replies stay small). */
export const MAX_ENTRY_BYTES = 256 * 1024;

export class BatchWriter {
  private chunks: Buffer[] = [];
  private size = 0;

  get bytes(): number {
    return this.size;
  }

  add(message: BusMessage): void {
    if (message.t === 'record') {
      const { from, fromSocket, fromNode, toSocket, kind, payload } = message;
      const strings = [from, fromSocket, fromNode, toSocket].map((s) => Buffer.from(s, 'utf8'));
      const head = Buffer.allocUnsafe(1 + 1 + strings.length * 2 + 4);
      let at = head.writeUInt8(message.fanOut ? RECORD_FAN_OUT : RECORD, 0);
      at = head.writeUInt8(kind, at);
      for (const s of strings) at = head.writeUInt16BE(s.length, at);
      head.writeUInt32BE(payload.byteLength, at);
      this.push(head, ...strings, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength));
      return;
    }
    const json = Buffer.from(JSON.stringify(message), 'utf8');
    const head = Buffer.allocUnsafe(5);
    head.writeUInt8(CONTROL, 0);
    head.writeUInt32BE(json.length, 1);
    this.push(head, json);
  }

  /** The batch so far as one buffer; the writer starts empty again. */
  take(): Buffer {
    const out = Buffer.concat(this.chunks, this.size);
    this.chunks = [];
    this.size = 0;
    return out;
  }

  private push(...parts: Buffer[]): void {
    for (const part of parts) {
      this.chunks.push(part);
      this.size += part.length;
    }
  }
}

/** The messages of one stream entry, in the order they were added; a malformed entry ends the batch (never throws). */
export function readBatch(entry: Buffer, visit: (message: BusMessage) => void): void {
  let at = 0;
  while (at < entry.length) {
    const tag = entry.readUInt8(at);
    if (tag === CONTROL) {
      const length = entry.readUInt32BE(at + 1);
      visit(JSON.parse(entry.toString('utf8', at + 5, at + 5 + length)) as BusMessage);
      at += 5 + length;
      continue;
    }
    if (tag !== RECORD && tag !== RECORD_FAN_OUT) return;
    const kind = entry.readUInt8(at + 1) as RecordKind;
    const lengths = [0, 1, 2, 3].map((i) => entry.readUInt16BE(at + 2 + i * 2));
    const payloadLength = entry.readUInt32BE(at + 10);
    at += 14;
    const [from, fromSocket, fromNode, toSocket] = lengths.map((length) => {
      const s = entry.toString('utf8', at, at + length);
      at += length;
      return s;
    });
    // A view, not a copy: the entry's buffer is read once and then only referenced by the payloads it holds.
    const payload = new Uint8Array(entry.buffer, entry.byteOffset + at, payloadLength);
    at += payloadLength;
    const message: BusMessage = { t: 'record', from, fromSocket, fromNode, toSocket, kind, payload };
    if (tag === RECORD_FAN_OUT) message.fanOut = true;
    visit(message);
  }
}
