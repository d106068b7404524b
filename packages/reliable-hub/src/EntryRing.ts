import type { Outgoing } from './SendBuffer';

/** Slots of a new ring; it doubles whenever the held sequence numbers span more. */
const INITIAL_SLOTS = 64;

/**
 * The send buffer's messages by sequence number: an array indexed by `seq` modulo its length, a power of two
 * kept above the span of sequence numbers held (from the cumulative acknowledgement to the newest), so no two held
 * messages share a slot. It does what a Map did without hashing, and without the deleted entries a Map keeps
 * until it rehashes: every message is added once and removed once, on the hot path.
 */
export class EntryRing {
  private slots: Array<Outgoing | undefined> = new Array<Outgoing | undefined>(INITIAL_SLOTS);
  private mask = INITIAL_SLOTS - 1;
  private count = 0;

  /** Messages held. */
  get size(): number {
    return this.count;
  }

  /** The message of sequence number `seq`, if held. */
  get(seq: number): Outgoing | undefined {
    const entry = this.slots[seq & this.mask];
    return entry !== undefined && entry.seq === seq ? entry : undefined;
  }

  /** Adds a message; every message held has a sequence number above `floor` (the cumulative acknowledgement). */
  add(floor: number, entry: Outgoing): void {
    if (entry.seq - floor > this.slots.length) this.grow(entry.seq - floor);
    this.slots[entry.seq & this.mask] = entry;
    this.count++;
  }

  /** Removes and returns the message of sequence number `seq`, if held. */
  take(seq: number): Outgoing | undefined {
    const entry = this.get(seq);
    if (entry !== undefined) {
      this.slots[seq & this.mask] = undefined;
      this.count--;
    }
    return entry;
  }

  clear(): void {
    this.slots = new Array<Outgoing | undefined>(INITIAL_SLOTS);
    this.mask = INITIAL_SLOTS - 1;
    this.count = 0;
  }

  private grow(span: number): void {
    let length = this.slots.length * 2;
    while (length < span) length *= 2;
    const slots = new Array<Outgoing | undefined>(length);
    const mask = length - 1;
    for (const entry of this.slots) if (entry !== undefined) slots[entry.seq & mask] = entry;
    this.slots = slots;
    this.mask = mask;
  }
}
