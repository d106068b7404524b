import type { BusMessage, RecordKind } from '@vnf/protocol';

/*
 * How bus messages travel in one Redis stream entry: a batch, each message a tag byte and then its fields. Relayed
 * records (the hot path) are binary and share their addressing: a PAIR item names sender and target once (four
 * length-prefixed strings), and each RECORD after it carries only its kind and payload — so a burst between two
 * sockets costs no JSON, no base64 and no per-record strings. The rare control messages are JSON. Every entry
 * starts afresh (its first record is preceded by its PAIR).
 */
const RECORD = 1;
const RECORD_FAN_OUT = 2;
const CONTROL = 3;
const PAIR = 4;

/** Bytes a batch may grow to before a new stream entry is started (Redis replies stay small). */
export const MAX_ENTRY_BYTES = 256 * 1024;
const INITIAL_BYTES = 4096;

type RecordMessage = Extract<BusMessage, { t: 'record' }>;

export class BatchWriter {
  private buffer = Buffer.allocUnsafe(INITIAL_BYTES);
  private size = 0;
  /** The addressing the last PAIR item set (records of this entry after it share it). */
  private from = '';
  private fromSocket = '';
  private fromNode = '';
  private toSocket = '';
  private paired = false;

  get bytes(): number {
    return this.size;
  }

  add(message: BusMessage): void {
    if (message.t === 'record') {
      this.addRecord(message);
      return;
    }
    const json = JSON.stringify(message);
    const length = Buffer.byteLength(json);
    this.reserve(5 + length);
    this.buffer[this.size] = CONTROL;
    this.buffer.writeUInt32BE(length, this.size + 1);
    this.buffer.write(json, this.size + 5, 'utf8');
    this.size += 5 + length;
  }

  /** The batch so far; the writer starts a new entry (a new buffer: ioredis still holds this one until it is sent). */
  take(): Buffer {
    const out = this.buffer.subarray(0, this.size);
    this.buffer = Buffer.allocUnsafe(Math.min(MAX_ENTRY_BYTES + 64 * 1024, Math.max(INITIAL_BYTES, this.size)));
    this.size = 0;
    this.paired = false;
    return out;
  }

  private addRecord({ from, fromSocket, fromNode, toSocket, kind, payload, fanOut }: RecordMessage): void {
    if (!this.paired || from !== this.from || fromSocket !== this.fromSocket || fromNode !== this.fromNode || toSocket !== this.toSocket) {
      this.addPair(from, fromSocket, fromNode, toSocket);
    }
    this.reserve(6 + payload.byteLength);
    const at = this.size;
    this.buffer[at] = fanOut ? RECORD_FAN_OUT : RECORD;
    this.buffer[at + 1] = kind;
    this.buffer.writeUInt32BE(payload.byteLength, at + 2);
    this.buffer.set(payload, at + 6);
    this.size = at + 6 + payload.byteLength;
  }

  private addPair(from: string, fromSocket: string, fromNode: string, toSocket: string): void {
    const strings = [from, fromSocket, fromNode, toSocket];
    const lengths = strings.map((s) => Buffer.byteLength(s));
    this.reserve(9 + lengths[0] + lengths[1] + lengths[2] + lengths[3]);
    let at = this.size;
    this.buffer[at++] = PAIR;
    for (const length of lengths) at = this.buffer.writeUInt16BE(length, at);
    strings.forEach((s, i) => {
      at += this.buffer.write(s, at, lengths[i], 'utf8');
    });
    this.size = at;
    this.from = from;
    this.fromSocket = fromSocket;
    this.fromNode = fromNode;
    this.toSocket = toSocket;
    this.paired = true;
  }

  private reserve(bytes: number): void {
    if (this.size + bytes <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.size + bytes));
    this.buffer.copy(grown, 0, 0, this.size);
    this.buffer = grown;
  }
}

/** The messages of one stream entry, in the order they were added; a malformed entry ends the batch (never throws). */
export function readBatch(entry: Buffer, visit: (message: BusMessage) => void): void {
  let at = 0;
  let from = '';
  let fromSocket = '';
  let fromNode = '';
  let toSocket = '';
  let paired = false;
  while (at < entry.length) {
    const tag = entry[at];
    if (tag === CONTROL) {
      if (at + 5 > entry.length) return;
      const length = entry.readUInt32BE(at + 1);
      if (at + 5 + length > entry.length) return;
      visit(JSON.parse(entry.toString('utf8', at + 5, at + 5 + length)) as BusMessage);
      at += 5 + length;
    } else if (tag === PAIR) {
      if (at + 9 > entry.length) return;
      const lengths = [0, 1, 2, 3].map((i) => entry.readUInt16BE(at + 1 + i * 2));
      at += 9;
      const strings = lengths.map((length) => {
        const s = entry.toString('utf8', at, at + length);
        at += length;
        return s;
      });
      if (at > entry.length) return;
      [from, fromSocket, fromNode, toSocket] = strings;
      paired = true;
    } else if ((tag === RECORD || tag === RECORD_FAN_OUT) && paired) {
      if (at + 6 > entry.length) return;
      const kind = entry[at + 1] as RecordKind;
      const length = entry.readUInt32BE(at + 2);
      if (at + 6 + length > entry.length) return;
      // A view, not a copy: the entry's buffer is read once and then only referenced by the payloads it holds.
      const payload = new Uint8Array(entry.buffer, entry.byteOffset + at + 6, length);
      at += 6 + length;
      const message: BusMessage = { t: 'record', from, fromSocket, fromNode, toSocket, kind, payload };
      if (tag === RECORD_FAN_OUT) message.fanOut = true;
      visit(message);
    } else {
      return;
    }
  }
}
