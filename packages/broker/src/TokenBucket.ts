/**
 * A budget of units per second that refills continuously up to `capacity`: a client may burst up to `capacity`,
 * then gets `rate` a second, evenly. A fixed one-second window let a client spend a whole second's budget in one
 * burst at the start of each second, which is what an honest neighbour's latency feels.
 */
export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(
    private readonly rate: number,
    readonly capacity: number,
    now: number,
  ) {
    this.tokens = capacity;
    this.at = now;
  }

  /** A bucket for `rate` units a second (Infinity: no limit) holding at most `1 / burstShare` of a second's worth, and at least `minBurst`. */
  static forRate(rate: number, burstShare: number, minBurst: number, now: number): TokenBucket {
    return new TokenBucket(rate, Math.min(rate, Math.max(rate / burstShare, minBurst)), now);
  }

  /** Takes `n` units if the bucket holds them (or is full: one request larger than the bucket passes then); false, nothing taken, otherwise. */
  tryTake(n: number, now: number): boolean {
    if (this.rate === Infinity) return true;
    this.refill(now);
    if (this.tokens < n && this.tokens < this.capacity) return false;
    this.tokens -= n;
    return true;
  }

  /** Takes `n` units, into debt if need be; the milliseconds until the bucket is out of debt (0: it is not in debt). */
  take(n: number, now: number): number {
    if (this.rate === Infinity) return 0;
    this.refill(now);
    this.tokens -= n;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.rate);
  }

  /** Milliseconds until the bucket holds `n` units (0: it does). */
  msUntil(n: number, now: number): number {
    if (this.rate === Infinity) return 0;
    this.refill(now);
    const wanted = Math.min(n, this.capacity);
    return this.tokens >= wanted ? 0 : Math.ceil(((wanted - this.tokens) * 1000) / this.rate);
  }

  /** True when the bucket holds at least `share` of its capacity. */
  holds(share: number, now: number): boolean {
    if (this.rate === Infinity) return true;
    this.refill(now);
    return this.tokens >= this.capacity * share;
  }

  private refill(now: number): void {
    if (now > this.at) this.tokens = Math.min(this.capacity, this.tokens + ((now - this.at) * this.rate) / 1000);
    this.at = now;
  }
}
