import { RecordKind, recordLength, writeRecords, type RecordParts } from '@vnf/protocol';

const EMPTY = new Uint8Array(0);

/**
 * Records waiting for one socket. Payloads are kept as views of the frames they arrived in and copied
 * once, into the outgoing batch frame, when the broker flushes at the end of the I/O turn.
 */
export class OutboundQueue {
  private records: RecordParts[] = [];
  /** Bytes the queued records will take on the wire. */
  bytes = 0;

  push(kind: RecordKind, eva: Uint8Array, payload: Uint8Array): void {
    const record = { kind, eva, payload };
    this.records.push(record);
    this.bytes += recordLength(record);
  }

  control(message: object): void {
    this.controlText(JSON.stringify(message));
  }

  /** A control message already serialized (an RPC reply, measured before it is queued). */
  controlText(json: string): void {
    this.push(RecordKind.CONTROL, EMPTY, Buffer.from(json));
  }

  get isEmpty(): boolean {
    return this.records.length === 0;
  }

  clear(): void {
    this.records = [];
    this.bytes = 0;
  }

  /** Empties the queue into frames of at most `maxFrame` bytes (a record larger than that gets a frame of its own). */
  takeFrames(maxFrame: number): Buffer[] {
    const records = this.records;
    this.clear();
    const frames: Buffer[] = [];
    let from = 0;
    let size = 0;
    for (let i = 0; i < records.length; i++) {
      const length = recordLength(records[i]);
      if (i > from && size + length > maxFrame) {
        frames.push(writeRecords(Buffer.allocUnsafe(size), records, from, i) as Buffer);
        from = i;
        size = 0;
      }
      size += length;
    }
    if (from < records.length) frames.push(writeRecords(Buffer.allocUnsafe(size), records, from) as Buffer);
    return frames;
  }
}
