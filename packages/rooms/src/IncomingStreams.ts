import { createLogger } from '@vnf/core';
import { MAX_NACK_RANGES, type Control } from './frames';

const log = createLogger('rooms');

/** First nack after a gap is seen, ms (frames reordered beneath arrive meanwhile); repeated, doubling, up to NACK_MAX_MS. */
export const NACK_FIRST_MS = 30;
export const NACK_MAX_MS = 2000;
/** Broadcasts one nack asks for, at most (over all its ranges). */
export const MAX_NACK_SEQS = 1024;

/** What a member's incoming streams need of its room. */
export interface IncomingHost {
  /** A broadcast of `sourceEva`, in its order, once. */
  deliver(sourceEva: string, body: unknown): void;
  /** A control frame to one member; false when it could not be sent now. */
  control(target: string, control: Control): boolean;
  /** `missed` broadcasts of `sourceEva` can no longer be repaired (they left its history). */
  gap(sourceEva: string, missed: number): void;
}

interface Stream {
  inc: string;
  /** The seq delivered next; null until the sender's hello says where this member's stream starts. */
  expected: number | null;
  /** Frames above `expected`, by seq, waiting for the gap below them to be repaired. */
  readonly pending: Map<number, unknown>;
  /** The highest seq known to exist (from frames or probes). */
  highest: number;
  nackTimer: ReturnType<typeof setTimeout> | null;
  nackDelay: number;
  heyAt: number;
}

/**
 * The broadcast streams of the other members, as this member receives them: each delivered once, in its sender's
 * order; a gap is asked for again (nack, repeated while it stays) and one the sender can no longer fill is skipped
 * with a `gap` event. Frames beyond `maxOutOfOrder` waiting behind a gap are dropped (and asked for again later).
 */
export class IncomingStreams {
  private readonly streams = new Map<string, Stream>();

  constructor(
    private readonly maxOutOfOrder: number,
    private readonly host: IncomingHost,
  ) {}

  /** A broadcast of member `from` in its current incarnation `inc`. */
  broadcast(from: string, inc: string, seq: number, body: unknown): void {
    const s = this.stream(from, inc);
    s.highest = Math.max(s.highest, seq);
    if (s.expected === null) {
      this.hold(s, seq, body);
      this.askHello(from, s);
      return;
    }
    if (seq < s.expected) return;
    if (seq > s.expected) {
      this.hold(s, seq, body);
      this.scheduleNack(from, s);
      return;
    }
    this.host.deliver(from, body);
    s.expected = seq + 1;
    this.drain(from, s);
  }

  control(from: string, inc: string, control: Control): void {
    const s = this.stream(from, inc);
    switch (control.t) {
      case 'hello':
        if (control.s !== undefined) s.highest = Math.max(s.highest, control.s);
        if (s.expected === null) {
          s.expected = control.n;
          for (const seq of [...s.pending.keys()]) if (seq < control.n) s.pending.delete(seq);
          this.drain(from, s);
        } else {
          // A reopened connection: what was sent while it was down is repaired from the sender's history.
          s.highest = Math.max(s.highest, control.n - 1);
          if (s.highest >= s.expected) this.scheduleNack(from, s);
        }
        return;
      case 'hi':
        s.highest = Math.max(s.highest, control.s);
        if (s.expected === null) this.askHello(from, s);
        else if (control.s >= s.expected) this.scheduleNack(from, s, 0);
        return;
      case 'gone':
        if (s.expected !== null && control.upTo > s.expected) {
          const missed = control.upTo - s.expected;
          for (const seq of [...s.pending.keys()]) if (seq < control.upTo) s.pending.delete(seq);
          s.expected = control.upTo;
          this.host.gap(from, missed);
          this.drain(from, s);
        }
        return;
      default:
        return;
    }
  }

  /**
   * The connection to member `from` (incarnation `inc`) opened, or opened again: ask it where its stream stands.
   * Its own hello may be stale by the time it arrives (sent when its side of the connection opened, before this
   * side's did), and what it multicast in between was lost beneath (over ReliableHub a datagram for a connection
   * this side does not have yet is dropped). Its answer, a hello naming its last seq, is repaired from at once
   * instead of at its next tail probe, which may be seconds away.
   */
  connected(from: string, inc: string): void {
    const s = this.stream(from, inc);
    if (this.host.control(from, { t: 'hey', i: inc })) s.heyAt = Date.now();
  }

  /** The member is gone (or came back as a new incarnation): its stream is forgotten. */
  forget(from: string): void {
    const s = this.streams.get(from);
    if (s?.nackTimer) clearTimeout(s.nackTimer);
    this.streams.delete(from);
  }

  close(): void {
    for (const from of [...this.streams.keys()]) this.forget(from);
  }

  private stream(from: string, inc: string): Stream {
    let s = this.streams.get(from);
    if (s && s.inc !== inc) {
      this.forget(from);
      s = undefined;
    }
    if (!s) {
      s = { inc, expected: null, pending: new Map(), highest: -1, nackTimer: null, nackDelay: NACK_FIRST_MS, heyAt: -Infinity };
      this.streams.set(from, s);
    }
    return s;
  }

  private hold(s: Stream, seq: number, body: unknown): void {
    if (s.pending.has(seq)) return;
    if (s.pending.size >= this.maxOutOfOrder) {
      log('%s: dropped %d behind a gap (%d waiting)', s.inc, seq, s.pending.size);
      return;
    }
    s.pending.set(seq, body);
  }

  /** Delivers what waited right after `expected`; asks again for what is still missing. */
  private drain(from: string, s: Stream): void {
    let expected = s.expected!;
    const before = expected;
    while (s.pending.size > 0 && s.pending.has(expected)) {
      const body = s.pending.get(expected);
      s.pending.delete(expected);
      this.host.deliver(from, body);
      expected++;
      // A listener may have made the room forget this stream.
      if (this.streams.get(from) !== s) return;
    }
    s.expected = expected;
    if (s.highest < expected) this.settled(s);
    else {
      // Progress: the next gap is asked for promptly, not after the backoff the last one reached.
      if (expected > before && s.nackDelay > NACK_FIRST_MS) this.settled(s);
      this.scheduleNack(from, s);
    }
  }

  private settled(s: Stream): void {
    if (s.nackTimer) clearTimeout(s.nackTimer);
    s.nackTimer = null;
    s.nackDelay = NACK_FIRST_MS;
  }

  private scheduleNack(from: string, s: Stream, delay = s.nackDelay): void {
    if (s.nackTimer) return;
    s.nackTimer = setTimeout(() => {
      s.nackTimer = null;
      if (this.streams.get(from) !== s || s.expected === null || s.highest < s.expected) return;
      this.host.control(from, { t: 'nack', i: s.inc, r: missing(s) });
      s.nackDelay = Math.min(s.nackDelay * 2, NACK_MAX_MS);
      this.scheduleNack(from, s);
    }, delay);
    (s.nackTimer as { unref?: () => void }).unref?.();
  }

  /** Frames of a stream whose start is unknown (its hello is late or lost): ask for the hello, at most every 500 ms. */
  private askHello(from: string, s: Stream): void {
    const now = Date.now();
    if (now - s.heyAt < 500) return;
    s.heyAt = now;
    this.host.control(from, { t: 'hey', i: s.inc });
  }
}


/** The ranges of seqs missing from `expected` to `highest`, ascending: at most MAX_NACK_RANGES ranges and MAX_NACK_SEQS seqs. */
function missing(s: Stream): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  let count = 0;
  let seq = s.expected!;
  while (seq <= s.highest && ranges.length < MAX_NACK_RANGES && count < MAX_NACK_SEQS) {
    if (s.pending.has(seq)) {
      seq++;
      continue;
    }
    const first = seq;
    while (seq < s.highest && !s.pending.has(seq + 1) && count + (seq - first + 1) < MAX_NACK_SEQS) seq++;
    ranges.push([first, seq]);
    count += seq - first + 1;
    seq++;
  }
  return ranges;
}
