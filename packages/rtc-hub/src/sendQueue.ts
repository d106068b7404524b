import { dataChannel } from '@vnf/protocol';

const { encodeFrame, recordSize } = dataChannel;
type FrameRecord = dataChannel.FrameRecord;

/** Taken slots at the front before the array is compacted (and only once they are half of it). */
const COMPACT_AFTER = 1024;

/**
 * The records waiting to be sent to one peer, oldest first. Taking a batch moves a head index instead of
 * shifting the rest of the backlog, so draining n records costs O(n) however long the queue grew.
 */
export class SendQueue {
  private records: Array<FrameRecord | undefined> = [];
  private head = 0;
  private queuedBytes = 0;

  get length(): number {
    return this.records.length - this.head;
  }

  /** Bytes the queued records take in frames. */
  get bytes(): number {
    return this.queuedBytes;
  }

  push(record: FrameRecord): void {
    this.records.push(record);
    this.queuedBytes += recordSize(record);
  }

  /** Takes the oldest records that fit into `budget` bytes (at least one) and encodes them into one frame. */
  takeFrame(budget: number): Uint8Array {
    const records = this.records as readonly FrameRecord[];
    const start = this.head;
    let end = start;
    let size = 0;
    while (end < records.length) {
      const next = recordSize(records[end]);
      if (end > start && size + next > budget) break;
      size += next;
      end++;
    }
    const frame = encodeFrame(records, start, end);
    // Let the sent records go now, not when the backlog is compacted.
    this.records.fill(undefined, start, end);
    this.queuedBytes -= size;
    this.head = end;
    if (this.head === this.records.length) {
      this.records.length = 0;
      this.head = 0;
    } else if (this.head >= COMPACT_AFTER && this.head * 2 >= this.records.length) {
      this.records = this.records.slice(this.head);
      this.head = 0;
    }
    return frame;
  }

  clear(): void {
    this.records = [];
    this.head = 0;
    this.queuedBytes = 0;
  }
}
