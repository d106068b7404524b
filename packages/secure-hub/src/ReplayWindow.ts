/**
 * The receiving half of replay protection over a lossy inner hub (an IPsec-style sliding window, RFC 4303 §3.4.3):
 * the highest counter accepted, and a bit for each of the `size` counters ending there. A counter is accepted once;
 * one older than the window is refused, since it can no longer be told from a replay.
 */
export class ReplayWindow {
  private highest = -1;
  private readonly seen: Uint32Array;

  constructor(private readonly size: number) {
    this.seen = new Uint32Array(Math.ceil(size / 32));
  }

  /** Whether `counter` would be accepted: new, and within the window. Does not record it (check, decrypt, then `accept`). */
  fresh(counter: number): boolean {
    if (counter > this.highest) return true;
    return this.highest - counter < this.size && !this.has(counter);
  }

  /** Records `counter` as accepted (call only after `fresh` said yes and the record authenticated). */
  accept(counter: number): void {
    if (counter > this.highest) {
      if (counter - this.highest >= this.size) this.seen.fill(0);
      else for (let c = this.highest + 1; c < counter; c++) this.flip(c, false);
      this.highest = counter;
    }
    this.flip(counter, true);
  }

  private has(counter: number): boolean {
    const slot = counter % this.size;
    return (this.seen[slot >>> 5] & (1 << (slot & 31))) !== 0;
  }

  private flip(counter: number, on: boolean): void {
    const slot = counter % this.size;
    if (on) this.seen[slot >>> 5] |= 1 << (slot & 31);
    else this.seen[slot >>> 5] &= ~(1 << (slot & 31));
  }
}
