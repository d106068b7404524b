/** The shortest probe timeout: timers and event loops are not finer than a few milliseconds. */
const PROBE_FLOOR_MS = 2;

/**
 * Retransmission timeout from measured round trips (Jacobson/Karels, as in RFC 6298):
 * a fixed timer is either too slow on a fast path or causes spurious retransmissions on a slow one.
 */
export class RttEstimator {
  private srtt: number | null = null;
  private rttvar = 0;
  private current: number;
  /**
   * The peer's latest acknowledgement reported a gap (selective ranges). A receiver holding a gap acknowledges
   * every arrival at once (DataPath.onData), so a probe need not wait out its acknowledgement delay. With the
   * application's window full behind a retransmission lost again, only the probe recovers, and that delay was
   * most of its wait.
   */
  peerHoldsGap = false;

  /**
   * `ackDelayMs` is how long the peer may hold back an acknowledgement (it uses the same option as this
   * side, so it is assumed equal): a probe sent before that would usually resend a message that arrived.
   */
  constructor(
    initialRtoMs: number,
    private readonly minRtoMs: number,
    private readonly maxRtoMs: number,
    private readonly ackDelayMs: number,
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

  /**
   * How long acknowledgements may be silent, while data is unacknowledged, before a probe is sent, in ms
   * (RACK-TLP's probe timeout, RFC 8985 section 7.2): two smoothed round trips, and at least one round trip
   * plus the peer's acknowledgement delay unless the peer holds a gap, within [PROBE_FLOOR_MS, rto]. Until a
   * round trip was measured it is the RTO.
   */
  get probeTimeout(): number {
    if (this.srtt === null) return this.current;
    const ackDelay = this.peerHoldsGap ? 0 : this.ackDelayMs;
    const pto = Math.max(2 * this.srtt, this.srtt + ackDelay, PROBE_FLOOR_MS);
    return Math.min(this.current, pto);
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
