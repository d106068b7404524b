/**
 * Retransmission timeout from measured round trips (Jacobson/Karels, as in RFC 6298):
 * a fixed timer is either too slow on a fast path or causes spurious retransmissions on a slow one.
 */
export class RttEstimator {
  private srtt: number | null = null;
  private rttvar = 0;
  private current: number;

  constructor(
    initialRtoMs: number,
    private readonly minRtoMs: number,
    private readonly maxRtoMs: number,
  ) {
    this.current = initialRtoMs;
  }

  /** The retransmission timeout now, in ms. */
  get rto(): number {
    return this.current;
  }

  /** How long a message sent before an acknowledged one may still be merely reordered, in ms. */
  get reorderWindow(): number {
    return this.srtt === null ? this.minRtoMs / 4 : this.srtt / 4;
  }

  /** Feeds one round-trip sample (only of messages sent once: Karn's rule). */
  sample(rttMs: number): void {
    const rtt = Math.max(0, rttMs);
    if (this.srtt === null) {
      this.srtt = rtt;
      this.rttvar = rtt / 2;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - rtt);
      this.srtt = 0.875 * this.srtt + 0.125 * rtt;
    }
    this.current = Math.min(this.maxRtoMs, Math.max(this.minRtoMs, this.srtt + 4 * this.rttvar));
  }

  /** The timeout of a message already retransmitted `retries` times: exponential backoff, capped. */
  backedOff(retries: number): number {
    return Math.min(this.maxRtoMs, this.current * 2 ** Math.min(retries, 16));
  }
}
