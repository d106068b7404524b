import { createLogger } from '@vnf/core';
import { MAX_SEQ, encodeBroadcast, encodeControl, type Control } from './frames';

const log = createLogger('rooms');

/** First tail-loss probe after a broadcast, ms; each quiet probe doubles it up to PROBE_MAX_MS, then they stop. */
export const PROBE_FIRST_MS = 100;
export const PROBE_MAX_MS = 6400;
/**
 * Every this many probes, and the last of a quiet series, go to each member on its own connection instead of the
 * multicast: a member whose multicast path loses everything (a transport bug, a path that drops) still learns of
 * what it missed, and repairs it.
 */
export const UNICAST_PROBE_EVERY = 8;

/** What a member's outgoing stream needs of its room. */
export interface OutgoingHost {
  /** One frame to each target (the endpoint's multicast: best effort per target). */
  multicast(targets: readonly string[], frame: unknown): void;
  /** A repair or a control frame to one member; false when it could not be sent now (not connected, buffer full). */
  unicast(target: string, frame: unknown): boolean;
}

interface Kept {
  seq: number;
  frame: unknown;
  bytes: number;
}

/**
 * This member's stream of broadcasts: numbers them, sends each once to every started member, keeps the last ones
 * (bounded in count and bytes) to repair what a member missed, and probes the tail so that a member learns it
 * missed the last ones of a burst.
 */
export class OutgoingStream {
  private nextSeq = 0;
  private readonly history: Kept[] = [];
  private historyBytes = 0;
  /** Per known member, the first seq of this stream it is owed: the next seq when this member saw it join. */
  private readonly startOf = new Map<string, number>();
  /** Members whose start was sent (they get every broadcast from now on). A fresh array on each change. */
  private targets: readonly string[] = [];
  private probeTimer: ReturnType<typeof setTimeout> | null = null;
  private probeDelay = PROBE_FIRST_MS;
  private probedSeq = -1;
  private probes = 0;

  constructor(
    readonly inc: string,
    private readonly limits: { historySize: number; historyBytes: number },
    private readonly host: OutgoingHost,
  ) {}

  /** The seq the next broadcast will carry. */
  get next(): number {
    return this.nextSeq;
  }

  /** Members this stream is sent to now. */
  get started(): readonly string[] {
    return this.targets;
  }

  /** A member became known: it is owed every broadcast from now on. */
  owe(member: string): void {
    if (!this.startOf.has(member)) this.startOf.set(member, this.nextSeq);
  }

  /** A member is gone: nothing more is owed to it. */
  forget(member: string): void {
    this.startOf.delete(member);
    this.unstart(member);
  }

  /** The connection to `member` opened (or its start was asked for again): tell it where this stream starts for it. */
  start(member: string): void {
    const n = this.startOf.get(member);
    if (n === undefined) return;
    const hello: Control = this.nextSeq > 0 ? { t: 'hello', i: this.inc, n, s: this.nextSeq - 1 } : { t: 'hello', i: this.inc, n };
    if (!this.host.unicast(member, encodeControl(hello))) return;
    // Frozen: the endpoint filters a frozen list once per change of its connections, not at every broadcast.
    if (!this.targets.includes(member)) this.targets = Object.freeze([...this.targets, member]);
  }

  /** The connection to `member` was lost: stop sending until it is back (what it misses is repaired then). */
  unstart(member: string): void {
    if (this.targets.includes(member)) this.targets = Object.freeze(this.targets.filter((t) => t !== member));
  }

  /** Numbers, keeps and sends one broadcast; returns its seq. Throws what the frame's encoding or the stack refuses. */
  broadcast(body: unknown): number {
    const seq = this.nextSeq;
    const frame = encodeBroadcast(this.inc, seq, body);
    // The stack checks the payload at the call: only a frame it accepted is numbered and kept.
    this.host.multicast(this.targets, frame);
    this.nextSeq = seq === MAX_SEQ ? seq : seq + 1;
    this.keep(seq, frame);
    this.probeDelay = PROBE_FIRST_MS;
    this.probeTimer ??= this.timer(PROBE_FIRST_MS);
    return seq;
  }

  /** A member asked for these ranges again: resend what is kept, and say `gone` for what is not. */
  repair(member: string, ranges: ReadonlyArray<readonly [number, number]>): void {
    if (!this.startOf.has(member)) return;
    const oldest = this.history.length > 0 ? this.history[0].seq : this.nextSeq;
    if (ranges[0][0] < oldest) {
      log('%s: %s asked from %d, kept from %d', this.inc, member, ranges[0][0], oldest);
      if (!this.host.unicast(member, encodeControl({ t: 'gone', i: this.inc, upTo: oldest }))) return;
    }
    for (const [from, to] of ranges) {
      const last = Math.min(to, this.nextSeq - 1);
      for (let i = Math.max(from, oldest) - oldest; i < this.history.length && this.history[i].seq <= last; i++) {
        // A member that cannot take more now asks again: its receiver repeats its nack while the gap stays.
        if (!this.host.unicast(member, this.history[i].frame)) return;
      }
    }
  }

  close(): void {
    if (this.probeTimer) clearTimeout(this.probeTimer);
    this.probeTimer = null;
    this.targets = [];
    this.startOf.clear();
  }

  private keep(seq: number, frame: unknown): void {
    const bytes = frameBytes(frame);
    this.history.push({ seq, frame, bytes });
    this.historyBytes += bytes;
    while (this.history.length > this.limits.historySize || (this.historyBytes > this.limits.historyBytes && this.history.length > 1)) {
      this.historyBytes -= this.history.shift()!.bytes;
    }
  }

  private timer(ms: number): ReturnType<typeof setTimeout> {
    const t = setTimeout(() => this.probe(), ms);
    (t as { unref?: () => void }).unref?.();
    return t;
  }

  /** Tells every started member the last seq sent: one that missed the tail of a burst asks for it. */
  private probe(): void {
    this.probeTimer = null;
    const last = this.nextSeq - 1;
    if (last < 0) return;
    if (last === this.probedSeq) {
      this.probeDelay *= 2;
      if (this.probeDelay > PROBE_MAX_MS) return;
    }
    this.probedSeq = last;
    const frame = encodeControl({ t: 'hi', i: this.inc, s: last });
    const lastOfSeries = this.probeDelay * 2 > PROBE_MAX_MS;
    if (++this.probes % UNICAST_PROBE_EVERY === 0 || lastOfSeries) for (const target of this.targets) this.host.unicast(target, frame);
    else if (this.targets.length > 0) this.host.multicast(this.targets, frame);
    this.probeTimer = this.timer(this.probeDelay);
  }
}

/** What a kept frame costs, roughly: its bytes, or its JSON for other values. */
function frameBytes(frame: unknown): number {
  if (typeof frame === 'string') return frame.length * 2;
  if (frame instanceof Uint8Array) return frame.byteLength;
  try {
    return JSON.stringify(frame)?.length ?? 64;
  } catch {
    return 1024;
  }
}
