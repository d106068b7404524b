import type { Payload } from '@vnf/core';
import { EntryRing } from './EntryRing';
import { RttEstimator } from './RttEstimator';

/** One message accepted by `send` and not yet acknowledged. */
export interface Outgoing {
  readonly seq: number;
  /** The encoded frame, kept so a retransmission does not encode again. */
  readonly frame: Payload;
  /** Payload bytes, as counted by `bufferedAmount`. */
  readonly size: number;
  /** When it was last handed to the inner endpoint (ms); -1 when it must be sent (again). */
  sentAt: number;
  /** Transmission order of its last transmission, for loss detection. */
  xmit: number;
  /** Retransmissions caused by a retransmission timeout, for exponential backoff (probes and RACK do not count). */
  retries: number;
  /** Sent more than once: its acknowledgement says nothing about the round trip (Karn's rule). */
  retransmitted: boolean;
  /** In the retransmission queue now. */
  queued: boolean;
}

export interface AckResult {
  /** The cumulative acknowledgement moved forward. */
  advanced: boolean;
  /** Messages newly acknowledged (cumulatively or selectively). */
  released: number;
}

/**
 * Probes sent in a row while acknowledgements make no progress. After these the retransmission timeout (with
 * backoff) takes over: a peer that answers none of them is more likely unreachable than unlucky.
 */
const MAX_PROBES = 2;

/**
 * The sender's half of a connection: sequence numbers, the window, acknowledgements (cumulative
 * and selective) and loss detection. It only decides; the endpoint does the I/O and the timers.
 *
 * Loss detection is that of RACK (RFC 8985) in a simple form: a message counts as lost when one
 * transmitted after it was acknowledged and a reordering allowance has passed, or when its
 * retransmission timeout (with backoff) expired. As in TCP, the timeout counts from the latest of its
 * transmission, the last acknowledgement that made progress and the last probe: while acknowledgements
 * flow, a message not yet acknowledged is more likely queued behind others than lost, and a receiver busy
 * with a large batch would otherwise cause a burst of needless retransmissions.
 *
 * A loss that no later acknowledgement can reveal (the last messages sent, a retransmission lost again, the
 * acknowledgement of a full window lost) is found by a probe, as in RACK-TLP: when data is unacknowledged and
 * no acknowledgement made progress for a probe timeout (about two round trips, see `RttEstimator.probeTimeout`),
 * the oldest unacknowledged message is sent again. Its acknowledgement (the peer acknowledges a duplicate or a
 * gap-filling message at once) either releases everything that arrived or, through RACK, shows what was lost.
 * A probe neither counts as a timeout nor backs the timeout off; it costs one message, and only when the
 * connection was stalled. After `MAX_PROBES` unanswered probes, or after a genuine timeout, only the timeout
 * (backed off on each consecutive expiry) resends, until an acknowledgement makes progress again.
 */
export class SendBuffer {
  /** Sequence number the next accepted message gets. */
  nextSeq = 1;
  /** Everything up to this was delivered to the peer's application. */
  cumAcked = 0;
  /** Payload bytes held (accepted and not acknowledged). */
  bytes = 0;
  readonly rtt: RttEstimator;
  /** The messages held, by sequence number (see EntryRing). */
  private readonly entries = new EntryRing();
  /** Lowest sequence number never transmitted. */
  private nextNew = 1;
  private readonly retransmitQueue: number[] = [];
  private xmitCounter = 0;
  /** Transmission order of the latest transmission known to have arrived. */
  private rackXmit = 0;
  /**
   * A message arrived after one transmitted later had been acknowledged, without being sent again: the path
   * reorders. Until then an overtaken message is lost at once, as in RACK (RFC 8985, 6.2): waiting a reordering
   * allowance on a path that never reorders only stalls recovery, by a whole timer tick when the allowance is below
   * one (in process, over a LAN).
   */
  private reorderingSeen = false;
  /** When an acknowledgement last released something (ms). */
  private lastProgress = 0;
  /** When a message was last handed to the inner endpoint (ms). */
  private lastSent = 0;
  /** Probes sent since an acknowledgement last made progress. */
  private probes = 0;
  /** When the last probe was sent (ms): as in RACK-TLP, the retransmission timeout restarts from it. */
  private lastProbe = 0;
  /**
   * Every transmission, in transmission order (`flightXmits` strictly increasing from `flightHead`), so loss
   * detection visits only the entries that may be lost or decide the next deadline. Slot i is the transmission
   * numbered `flightXmits[i]` of `flightEntries[i]` (two arrays, so a transmission allocates nothing). A slot goes
   * stale when its message is acknowledged, queued again or transmitted again; stale slots are skipped and dropped
   * from the front.
   */
  private flightEntries: Outgoing[] = [];
  private flightXmits: number[] = [];
  private flightHead = 0;
  /** Messages in flight: transmitted, not acknowledged, not queued for retransmission. */
  private inFlight = 0;
  /** Of those, how many were retransmitted by a timeout (`retries > 0`): their deadlines are backed off. */
  private backedOffInFlight = 0;

  constructor(
    /** The window agreed in the handshake: the smaller of both sides' windows. */
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
    this.entries.add(this.cumAcked, {
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

  /**
   * Records that `entry` (from `peek`) was handed to the inner endpoint. `now` never decreases from one call to the
   * next (the endpoint reads `performance.now()`): loss detection relies on send times growing with `xmit`.
   */
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
    this.flightEntries.push(entry);
    this.flightXmits.push(entry.xmit);
    this.inFlight++;
    if (entry.retries > 0) this.backedOffInFlight++;
  }

  /** Applies an acknowledgement. Values beyond what was sent are ignored (a confused or hostile peer). */
  acknowledge(cum: number, ranges: ReadonlyArray<readonly [number, number]>, now: number): AckResult {
    const limit = this.nextNew - 1;
    let released = 0;
    // The latest transmission acknowledged: its transmission order, when it was sent, and whether it was a retransmission.
    let newestXmit = 0;
    let newestSentAt = 0;
    let newestRetransmitted = false;
    const release = (seq: number): void => {
      const entry = this.entries.take(seq);
      if (!entry) return;
      this.bytes -= entry.size;
      released++;
      // Sent once, and a later transmission was acknowledged first (a queued retransmission included: it was needless).
      if (!entry.retransmitted && entry.xmit < this.rackXmit) this.reorderingSeen = true;
      if (entry.sentAt < 0) return;
      if (entry.xmit > newestXmit) {
        newestXmit = entry.xmit;
        newestSentAt = entry.sentAt;
        newestRetransmitted = entry.retransmitted;
      }
      this.leaveFlight(entry);
      // Marks its flight slot stale.
      entry.sentAt = -1;
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
    if (newestXmit > 0) {
      if (!newestRetransmitted) this.rtt.sample(now - newestSentAt);
      this.rackXmit = Math.max(this.rackXmit, newestXmit);
    }
    return { advanced, released };
  }

  /**
   * Queues lost messages for retransmission, and a probe when the connection stalled; returns when
   * this should be called again (ms timestamp), or null when nothing is in flight.
   */
  detectLosses(now: number): number | null {
    const { flightEntries, flightXmits } = this;
    const overtaken: Outgoing[] = [];
    const timedOut: Outgoing[] = [];
    let next: number | null = null;
    // Overtaken (transmitted before the latest transmission acknowledged): lost a reordering allowance after it
    // was sent. They are the front of `flight` and their deadlines grow along it: stop at the first in the future.
    const reorderWindow = this.reorderingSeen ? this.rtt.reorderWindow : 0;
    const firstNotOvertaken = this.firstSlotAfter(this.rackXmit);
    let front = this.flightHead;
    for (; front < firstNotOvertaken; front++) {
      const entry = flightEntries[front]!;
      if (!isLive(entry, flightXmits[front]!)) continue;
      const deadline = entry.sentAt + reorderWindow;
      if (deadline > now) {
        next = deadline;
        break;
      }
      overtaken.push(entry);
    }
    // Every slot before `front` is stale or lost now: no later call needs to look at it again.
    let atFront = front === firstNotOvertaken;
    // Not overtaken: lost when their retransmission timeout (backed off) expired, counted from the latest of their
    // transmission, the last progress and the last probe. With no backed-off entry in flight every timeout is the
    // same, so these deadlines too grow along `flight`; otherwise each entry is looked at.
    const since = Math.max(this.lastProgress, this.lastProbe);
    const ordered = this.backedOffInFlight === 0;
    for (let i = firstNotOvertaken; i < flightEntries.length; i++) {
      const entry = flightEntries[i]!;
      if (isLive(entry, flightXmits[i]!)) {
        const deadline = Math.max(entry.sentAt, since) + this.rtt.backedOff(entry.retries);
        if (deadline > now) {
          atFront = false;
          if (next === null || deadline < next) next = deadline;
          if (ordered) break;
          continue;
        }
        timedOut.push(entry);
      }
      if (atFront) front = i + 1;
    }
    this.dropSlotsBefore(front);
    for (const entry of overtaken) this.leaveFlight(entry);
    for (const entry of timedOut) {
      this.leaveFlight(entry);
      entry.retries++;
    }
    // A genuine timeout: until an acknowledgement makes progress, the backed-off timeout governs, not probes.
    if (timedOut.length > 0) this.probes = MAX_PROBES;
    const lost = overtaken.length > 0 || timedOut.length > 0;
    if (lost) {
      // Retransmissions leave in sequence order, as they always did.
      const queue = overtaken.length === 0 ? timedOut : timedOut.length === 0 ? overtaken : overtaken.concat(timedOut);
      if (queue.length > 1) queue.sort((x, y) => x.seq - y.seq);
      for (const entry of queue) this.markQueued(entry);
    }
    if (this.probes >= MAX_PROBES) return next;
    const probeTimeout = this.rtt.probeTimeout;
    // What was queued goes out now and elicits an acknowledgement just as a probe would: the next probe is due
    // a probe timeout from now.
    if (lost) return next === null ? now + probeTimeout : Math.min(next, now + probeTimeout);
    if (this.inFlight === 0) return null;
    const probeAt = Math.max(this.lastSent, this.lastProgress) + probeTimeout;
    if (probeAt > now) return next === null ? probeAt : Math.min(next, probeAt);
    this.probes++;
    this.lastProbe = now;
    this.enqueue(this.oldestInFlight()!);
    // Every timeout now counts from the probe, so the next due is the next probe, or at the earliest the RTO.
    return now + (this.probes < MAX_PROBES ? probeTimeout : this.rtt.rto);
  }

  /** After the inner connection came back: everything in flight may be lost, send it again. */
  resendAll(): void {
    this.probes = 0;
    for (let seq = this.cumAcked + 1; seq < this.nextNew; seq++) {
      const entry = this.entries.get(seq);
      if (entry && !entry.queued) this.enqueue(entry);
    }
    // Every slot is stale now.
    this.clearFlight();
  }

  /** Drops every message (the connection ended). */
  clear(): void {
    this.entries.clear();
    this.retransmitQueue.length = 0;
    this.bytes = 0;
    this.clearFlight();
    this.inFlight = 0;
    this.backedOffInFlight = 0;
  }

  /** Queues an entry in flight for retransmission. */
  private enqueue(entry: Outgoing): void {
    this.leaveFlight(entry);
    this.markQueued(entry);
  }

  /** Counts an entry in flight out (acknowledged or to be sent again), with the retries it was sent with. */
  private leaveFlight(entry: Outgoing): void {
    this.inFlight--;
    if (entry.retries > 0) this.backedOffInFlight--;
  }

  private markQueued(entry: Outgoing): void {
    entry.queued = true;
    // Also marks its flight slot stale.
    entry.sentAt = -1;
    this.retransmitQueue.push(entry.seq);
  }

  /** The in-flight message of lowest sequence number, or null. */
  private oldestInFlight(): Outgoing | null {
    for (let seq = this.cumAcked + 1; seq < this.nextNew; seq++) {
      const entry = this.entries.get(seq);
      if (entry && !entry.queued && entry.sentAt >= 0) return entry;
    }
    return null;
  }

  /** Drops the slots before `index` (stale or lost), and compacts `flight` once they are most of it. */
  private dropSlotsBefore(index: number): void {
    this.flightHead = index;
    if (index === this.flightEntries.length) {
      this.clearFlight();
    } else if (index >= COMPACT_AT && index * 2 >= this.flightEntries.length) {
      this.flightEntries = this.flightEntries.slice(index);
      this.flightXmits = this.flightXmits.slice(index);
      this.flightHead = 0;
    }
  }

  private clearFlight(): void {
    this.flightEntries = [];
    this.flightXmits = [];
    this.flightHead = 0;
  }

  /** Index of the first slot transmitted after `xmit` (slots are in increasing `xmit` order). */
  private firstSlotAfter(xmit: number): number {
    let low = this.flightHead;
    let high = this.flightXmits.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.flightXmits[mid]! <= xmit) low = mid + 1;
      else high = mid;
    }
    return low;
  }
}

/** Slots dropped from the front of `flight` before it is copied down (amortizes the copy). */
const COMPACT_AT = 1024;

/** The slot still describes the entry's current transmission, and the entry is in flight. */
function isLive(entry: Outgoing, xmit: number): boolean {
  return entry.xmit === xmit && entry.sentAt >= 0 && !entry.queued;
}
