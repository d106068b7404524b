import type { Payload } from '@vnf/core';
import type { AckResult, Outgoing } from '../src/SendBuffer';
import { RttEstimator } from '../src/RttEstimator';

/*
 * The SendBuffer as it was before loss detection stopped scanning every message in flight: a plain scan in sequence
 * order, kept as the reference the optimised one must match decision for decision (see SendBuffer.test.ts).
 */

/**
 * Probes sent in a row while acknowledgements make no progress. After these the retransmission timeout (with
 * backoff) takes over: a peer that answers none of them is more likely unreachable than unlucky.
 */
const MAX_PROBES = 2;

export class ReferenceSendBuffer {
  /** Sequence number the next accepted message gets. */
  nextSeq = 1;
  /** Everything up to this was delivered to the peer's application. */
  cumAcked = 0;
  /** Payload bytes held (accepted and not acknowledged). */
  bytes = 0;
  readonly rtt: RttEstimator;
  private readonly entries = new Map<number, Outgoing>();
  /** Lowest sequence number never transmitted. */
  private nextNew = 1;
  private readonly retransmitQueue: number[] = [];
  private xmitCounter = 0;
  /** Transmission order of the latest transmission known to have arrived. */
  private rackXmit = 0;
  /** A message sent once arrived after a later transmission was acknowledged: the path reorders. */
  private reorderingSeen = false;
  /** When an acknowledgement last released something (ms). */
  private lastProgress = 0;
  /** When a message was last handed to the inner endpoint (ms). */
  private lastSent = 0;
  /** Probes sent since an acknowledgement last made progress. */
  private probes = 0;
  /** When the last probe was sent (ms): as in RACK-TLP, the retransmission timeout restarts from it. */
  private lastProbe = 0;

  constructor(
    private readonly window: number,
    rtt: RttEstimator,
  ) {
    this.rtt = rtt;
  }

  /** Messages held. */
  get size(): number {
    return this.entries.size;
  }

  /** Accepts a message of `size` bytes, `frame` its frame encoded with sequence number `nextSeq`; returns that number. */
  push(size: number, frame: Payload): number {
    const seq = this.nextSeq++;
    this.entries.set(seq, {
      seq,
      frame,
      size,
      sentAt: -1,
      xmit: 0,
      retries: 0,
      retransmitted: false,
      queued: false,
    });
    this.bytes += size;
    return seq;
  }

  /** The message to transmit next (retransmissions first), or null when none may be sent now. */
  peek(): Outgoing | null {
    while (this.retransmitQueue.length > 0) {
      const entry = this.entries.get(this.retransmitQueue[0]!);
      if (entry?.queued) return entry;
      this.retransmitQueue.shift();
    }
    if (this.nextNew < this.nextSeq && this.nextNew <= this.cumAcked + this.window) {
      return this.entries.get(this.nextNew) ?? null;
    }
    return null;
  }

  /** Records that `entry` (from `peek`) was handed to the inner endpoint. */
  sent(entry: Outgoing, now: number): void {
    if (entry.queued) {
      entry.queued = false;
      this.retransmitQueue.shift();
    }
    if (entry.seq === this.nextNew) this.nextNew++;
    else entry.retransmitted = true;
    entry.sentAt = now;
    entry.xmit = ++this.xmitCounter;
    this.lastSent = now;
  }

  /** Applies an acknowledgement. Values beyond what was sent are ignored (a confused or hostile peer). */
  acknowledge(cum: number, ranges: ReadonlyArray<readonly [number, number]>, now: number): AckResult {
    const limit = this.nextNew - 1;
    let released = 0;
    let newest: Outgoing | null = null;
    const release = (seq: number): void => {
      const entry = this.entries.get(seq);
      if (!entry) return;
      this.entries.delete(seq);
      this.bytes -= entry.size;
      released++;
      if (!entry.retransmitted && entry.xmit < this.rackXmit) this.reorderingSeen = true;
      if (entry.sentAt >= 0 && (newest === null || entry.xmit > newest.xmit)) newest = entry;
    };
    // An older acknowledgement overtaken by a newer one says nothing about the peer's state now.
    if (cum >= this.cumAcked) this.rtt.peerHoldsGap = ranges.length > 0;
    const advanced = cum > this.cumAcked && cum <= limit;
    if (advanced) {
      for (let seq = this.cumAcked + 1; seq <= cum; seq++) release(seq);
      this.cumAcked = cum;
    }
    for (const [from, to] of ranges) {
      for (let seq = Math.max(from, this.cumAcked + 1); seq <= Math.min(to, limit); seq++) release(seq);
    }
    if (released > 0) {
      this.lastProgress = now;
      this.probes = 0;
    }
    const latest = newest as Outgoing | null;
    if (latest) {
      if (!latest.retransmitted) this.rtt.sample(now - latest.sentAt);
      this.rackXmit = Math.max(this.rackXmit, latest.xmit);
    }
    return { advanced, released };
  }

  /**
   * Queues lost messages for retransmission, and a probe when the connection stalled; returns when
   * this should be called again (ms timestamp), or null when nothing is in flight.
   */
  detectLosses(now: number): number | null {
    let next: number | null = null;
    let oldest: Outgoing | null = null;
    let lost = false;
    const reorderWindow = this.reorderingSeen ? this.rtt.reorderWindow : 0;
    for (const entry of this.entries.values()) {
      if (entry.seq >= this.nextNew) break;
      if (entry.queued || entry.sentAt < 0) continue;
      const overtaken = entry.xmit < this.rackXmit;
      const deadline = overtaken
        ? entry.sentAt + reorderWindow
        : Math.max(entry.sentAt, this.lastProgress, this.lastProbe) + this.rtt.backedOff(entry.retries);
      if (deadline <= now) {
        if (!overtaken) {
          entry.retries++;
          // A genuine timeout: until an acknowledgement makes progress, the backed-off timeout governs, not probes.
          this.probes = MAX_PROBES;
        }
        this.enqueue(entry);
        lost = true;
      } else {
        oldest ??= entry;
        if (next === null || deadline < next) next = deadline;
      }
    }
    if (this.probes >= MAX_PROBES) return next;
    const probeTimeout = this.rtt.probeTimeout;
    // What was queued goes out now and elicits an acknowledgement just as a probe would: the next probe is due
    // a probe timeout from now.
    if (lost) return next === null ? now + probeTimeout : Math.min(next, now + probeTimeout);
    if (oldest === null) return null;
    const probeAt = Math.max(this.lastSent, this.lastProgress) + probeTimeout;
    if (probeAt > now) return next === null ? probeAt : Math.min(next, probeAt);
    this.probes++;
    this.lastProbe = now;
    this.enqueue(oldest);
    // Every timeout now counts from the probe, so the next due is the next probe, or at the earliest the RTO.
    return now + (this.probes < MAX_PROBES ? probeTimeout : this.rtt.rto);
  }

  /** After the inner connection came back: everything in flight may be lost, send it again. */
  resendAll(): void {
    this.probes = 0;
    for (const entry of this.entries.values()) {
      if (entry.seq >= this.nextNew) break;
      if (!entry.queued) this.enqueue(entry);
    }
  }

  /** Drops every message (the connection ended). */
  clear(): void {
    this.entries.clear();
    this.retransmitQueue.length = 0;
    this.bytes = 0;
  }

  private enqueue(entry: Outgoing): void {
    entry.queued = true;
    entry.sentAt = -1;
    this.retransmitQueue.push(entry.seq);
  }
}
