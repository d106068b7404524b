import type { Payload } from '@vnf/core';

/**
 * Selective-acknowledgement ranges per ACK frame (at most about 1.5 KB): enough for the holes a full window
 * has at 10% loss, so the sender neither retransmits what arrived nor waits for timeouts to find out.
 */
const MAX_ACK_RANGES = 96;
/** Slots of a new reorder ring; it doubles whenever the held messages span more, up to the window. */
const INITIAL_SLOTS = 64;

export type Arrival = 'inOrder' | 'early' | 'duplicate' | 'outsideWindow';

/**
 * The receiver's half of a connection: duplicate suppression and a reorder buffer, so the
 * application sees every message once and in order. It survives re-opened inner connections.
 *
 * Early messages wait in a ring indexed by sequence number modulo its length, a power of two above the span from
 * the next expected message to the highest held (as the sender's EntryRing): no hashing, and nothing allocated per
 * message, where a Map's entries cost a garbage collection's worth of work under steady loss.
 */
export class ReceiveBuffer {
  /** The next sequence number the application gets. */
  private expected = 1;
  private slots: Array<Payload | undefined> = new Array<Payload | undefined>(INITIAL_SLOTS);
  private mask = INITIAL_SLOTS - 1;
  /** Early messages held. */
  private held = 0;
  /** The highest sequence number held (meaningful while any is). */
  private highestEarly = 0;

  constructor(private readonly window: number) {}

  /** Everything up to this was delivered. */
  get cumulative(): number {
    return this.expected - 1;
  }

  /** True when messages after a gap are held. */
  get hasGap(): boolean {
    return this.held > 0;
  }

  /**
   * Classifies an arriving message. An `inOrder` one is the caller's to deliver now, followed by
   * whatever `takeReady` returns; an `early` one is held until the gap before it closes.
   */
  accept(seq: number, payload: Payload): Arrival {
    if (seq < this.expected) return 'duplicate';
    // The sender never has more than the window in flight; anything further is a confused peer.
    if (seq >= this.expected + this.window) return 'outsideWindow';
    if (seq === this.expected) {
      this.expected++;
      return 'inOrder';
    }
    // Every slot of the span [expected, expected + slots.length) belongs to one sequence number, so a filled one is a copy.
    if (seq - this.expected >= this.slots.length) this.grow(seq - this.expected + 1);
    const slot = seq & this.mask;
    if (this.slots[slot] !== undefined) return 'duplicate';
    this.slots[slot] = payload;
    this.held++;
    if (seq > this.highestEarly) this.highestEarly = seq;
    return 'early';
  }

  /** The next held message that is now in order, or undefined. */
  takeReady(): Payload | undefined {
    if (this.held === 0) return undefined;
    const slot = this.expected & this.mask;
    const payload = this.slots[slot];
    if (payload === undefined) return undefined;
    this.slots[slot] = undefined;
    this.held--;
    this.expected++;
    return payload;
  }

  /**
   * Ranges of held messages above the cumulative acknowledgement, lowest first: a walk over the held span (at most
   * the window), run for every acknowledgement while a gap is held.
   */
  ranges(): Array<[number, number]> {
    const ranges: Array<[number, number]> = [];
    if (this.held === 0) return ranges;
    let from = 0;
    for (let seq = this.expected; seq <= this.highestEarly + 1; seq++) {
      const isHeld = seq <= this.highestEarly && this.slots[seq & this.mask] !== undefined;
      if (isHeld && from === 0) from = seq;
      else if (!isHeld && from !== 0) {
        ranges.push([from, seq - 1]);
        if (ranges.length === MAX_ACK_RANGES) break;
        from = 0;
      }
    }
    return ranges;
  }

  clear(): void {
    this.slots = new Array<Payload | undefined>(INITIAL_SLOTS);
    this.mask = INITIAL_SLOTS - 1;
    this.held = 0;
    this.highestEarly = 0;
  }

  private grow(span: number): void {
    let length = this.slots.length * 2;
    while (length < span) length *= 2;
    const slots = new Array<Payload | undefined>(length);
    const mask = length - 1;
    for (let seq = this.expected + 1; seq <= this.highestEarly; seq++) {
      const payload = this.slots[seq & this.mask];
      if (payload !== undefined) slots[seq & mask] = payload;
    }
    this.slots = slots;
    this.mask = mask;
  }
}
