import type { Payload } from '@vnf/core';

/**
 * Selective-acknowledgement ranges per ACK frame (at most about 1.5 KB): enough for the holes a full window
 * has at 10% loss, so the sender neither retransmits what arrived nor waits for timeouts to find out.
 */
const MAX_ACK_RANGES = 96;

export type Arrival = 'inOrder' | 'early' | 'duplicate' | 'outsideWindow';

/**
 * The receiver's half of a connection: duplicate suppression and a reorder buffer, so the
 * application sees every message once and in order. It survives re-opened inner connections.
 */
export class ReceiveBuffer {
  /** The next sequence number the application gets. */
  private expected = 1;
  private readonly early = new Map<number, Payload>();

  constructor(private readonly window: number) {}

  /** Everything up to this was delivered. */
  get cumulative(): number {
    return this.expected - 1;
  }

  /** True when messages after a gap are held. */
  get hasGap(): boolean {
    return this.early.size > 0;
  }

  /**
   * Classifies an arriving message. An `inOrder` one is the caller's to deliver now, followed by
   * whatever `takeReady` returns; an `early` one is held until the gap before it closes.
   */
  accept(seq: number, payload: Payload): Arrival {
    if (seq < this.expected || this.early.has(seq)) return 'duplicate';
    // The sender never has more than the window in flight; anything further is a confused peer.
    if (seq >= this.expected + this.window) return 'outsideWindow';
    if (seq === this.expected) {
      this.expected++;
      return 'inOrder';
    }
    this.early.set(seq, payload);
    return 'early';
  }

  /** The next held message that is now in order, or undefined. */
  takeReady(): Payload | undefined {
    const payload = this.early.get(this.expected);
    if (payload === undefined) return undefined;
    this.early.delete(this.expected);
    this.expected++;
    return payload;
  }

  /** Ranges of held messages above the cumulative acknowledgement, lowest first. */
  ranges(): Array<[number, number]> {
    if (this.early.size === 0) return [];
    const seqs = [...this.early.keys()].sort((a, b) => a - b);
    const ranges: Array<[number, number]> = [];
    let from = seqs[0]!;
    let to = from;
    for (let i = 1; i < seqs.length && ranges.length < MAX_ACK_RANGES; i++) {
      const seq = seqs[i]!;
      if (seq === to + 1) to = seq;
      else {
        ranges.push([from, to]);
        from = to = seq;
      }
    }
    if (ranges.length < MAX_ACK_RANGES) ranges.push([from, to]);
    return ranges;
  }

  clear(): void {
    this.early.clear();
  }
}
