/**
 * Datagram counters a receiver remembers below the highest it accepted from a sender's session. An older one is
 * dropped unseen: it may be a copy of one already delivered, and a multicast may be lost, never delivered twice.
 */
export const REPLAY_WINDOW = 1024;

/**
 * The receiving half of datagram deduplication (an IPsec-style sliding window): the highest counter accepted from one
 * session of a peer, and a bit for each of the REPLAY_WINDOW counters ending there.
 */
export class ReplayWindow {
  private highest = 0;
  /** Bit `counter % REPLAY_WINDOW`: that counter was accepted (for counters within the window). */
  private readonly seen = new Uint32Array(REPLAY_WINDOW / 32);

  /** True the first time `counter` (1 or more) comes within the window; false for a repeat, or one too old to tell. */
  accept(counter: number): boolean {
    if (counter > this.highest) {
      // The slots the window slides over held counters that now fall out of it.
      if (counter - this.highest >= REPLAY_WINDOW) this.seen.fill(0);
      else for (let c = this.highest + 1; c < counter; c++) this.flip(c, false);
      this.highest = counter;
      this.flip(counter, true);
      return true;
    }
    if (this.highest - counter >= REPLAY_WINDOW || this.has(counter)) return false;
    this.flip(counter, true);
    return true;
  }

  private has(counter: number): boolean {
    const slot = counter % REPLAY_WINDOW;
    return (this.seen[slot >>> 5] & (1 << (slot & 31))) !== 0;
  }

  private flip(counter: number, on: boolean): void {
    const slot = counter % REPLAY_WINDOW;
    if (on) this.seen[slot >>> 5] |= 1 << (slot & 31);
    else this.seen[slot >>> 5] &= ~(1 << (slot & 31));
  }
}
