import { describe, expect, it, jest } from '@jest/globals';
import { seededRandom } from '@vnf/conformance';
import { RttEstimator } from '../src/RttEstimator';
import { SendBuffer } from '../src/SendBuffer';
import { ReferenceSendBuffer } from './ReferenceSendBuffer';

function buffer(window = 4): SendBuffer {
  const send = new SendBuffer(window, new RttEstimator(100, 10, 1000, 5));
  for (let i = 0; i < 6; i++) send.push(10, `f${send.nextSeq}`);
  return send;
}

/** Transmits everything the window allows; returns the sequence numbers sent. */
function transmit(send: SendBuffer, now: number): number[] {
  const sent: number[] = [];
  for (let entry = send.peek(); entry; entry = send.peek()) {
    send.sent(entry, now);
    sent.push(entry.seq);
  }
  return sent;
}

describe('SendBuffer', () => {
  it('sends no more than the window ahead of the cumulative acknowledgement', () => {
    const send = buffer(4);
    expect(transmit(send, 0)).toEqual([1, 2, 3, 4]);
    send.acknowledge(2, [], 5);
    expect(transmit(send, 5)).toEqual([5, 6]);
    expect(send.bytes).toBe(40);
  });

  it('releases selectively acknowledged messages and retransmits a hole overtaken by later ones', () => {
    const send = buffer(8);
    transmit(send, 0);
    // 2 was lost; 3..6 arrived.
    const result = send.acknowledge(1, [[3, 6]], 20);
    expect(result).toEqual({ advanced: true, released: 5 });
    expect(send.bytes).toBe(10);
    send.detectLosses(20 + send.rtt.reorderWindow);
    expect(transmit(send, 30)).toEqual([2]);
  });

  it('retransmits on timeout with exponential backoff', () => {
    const send = buffer(1);
    transmit(send, 0);
    expect(send.detectLosses(50)).toBe(100);
    send.detectLosses(100);
    expect(transmit(send, 100)).toEqual([1]);
    // Backed off: the next timeout is twice the RTO away.
    expect(send.detectLosses(150)).toBe(300);
  });

  it('probes without waiting out the peer\'s acknowledgement delay while the peer holds a gap (it acknowledges at once then)', () => {
    const send = buffer(8);
    transmit(send, 0);
    // One round trip of 1 ms: the probe timeout is a round trip plus the peer's 5 ms acknowledgement delay.
    send.acknowledge(1, [], 1);
    expect(send.rtt.probeTimeout).toBe(6);
    // 2 is missing at the peer, 3 arrived: the probe timeout is two round trips, at least the 2 ms floor.
    send.acknowledge(1, [[3, 3]], 1);
    expect(send.rtt.probeTimeout).toBe(2);
    // An older acknowledgement, overtaken by the newer one, changes nothing.
    send.acknowledge(0, [], 1);
    expect(send.rtt.probeTimeout).toBe(2);
    // The gap closed: the peer may delay its acknowledgement again.
    send.acknowledge(3, [], 1);
    expect(send.rtt.probeTimeout).toBe(6);
  });

  it('probes the oldest unacknowledged message when acknowledgements stall, without backing off, then falls back to the RTO', () => {
    const send = buffer(4);
    expect(transmit(send, 0)).toEqual([1, 2, 3, 4]);
    // One round trip of 10 ms measured: RTO 30 (srtt + 4 rttvar), probe timeout 20 (2 srtt).
    send.acknowledge(2, [], 10);
    expect([send.rtt.rto, send.rtt.probeTimeout]).toEqual([30, 20]);
    expect(transmit(send, 10)).toEqual([5, 6]);
    // Nothing more is acknowledged: the first probe is due a probe timeout after the last transmission.
    expect(send.detectLosses(10)).toBe(30);
    expect(send.detectLosses(30)).toBe(50);
    expect(transmit(send, 30)).toEqual([3]);
    expect(send.detectLosses(50)).toBe(80);
    expect(transmit(send, 50)).toEqual([3]);
    // Two probes unanswered: the RTO (counted from the last probe) resends everything in flight, then backs off.
    expect(send.detectLosses(80)).toBeNull();
    expect(transmit(send, 80)).toEqual([3, 4, 5, 6]);
    expect(send.detectLosses(81)).toBe(140);
    // An acknowledgement that makes progress ends the timeout phase: probes are due again.
    send.acknowledge(3, [], 100);
    expect(send.detectLosses(100)).toBe(120);
  });

  it('declares a lost retransmission lost again once a message sent after it is acknowledged', () => {
    const send = buffer(16);
    send.push(10, `f${send.nextSeq}`);
    send.push(10, `f${send.nextSeq}`);
    expect(transmit(send, 0)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    send.acknowledge(0, [[2, 6]], 10);
    // 1 was overtaken by 2..6: lost after the reordering allowance; 7 and 8 wait for their timeout.
    send.detectLosses(10);
    expect(transmit(send, 12)).toEqual([1]);
    // 7 and 8 were sent before the retransmission: their acknowledgement says nothing about it.
    send.acknowledge(0, [[7, 8]], 14);
    expect(send.detectLosses(14)).toBeGreaterThan(14);
    expect(transmit(send, 14)).toEqual([]);
    // A message sent after the retransmission arrived and it did not: it is lost again, well before any timeout.
    send.push(10, `f${send.nextSeq}`);
    expect(transmit(send, 15)).toEqual([9]);
    send.acknowledge(0, [[9, 9]], 20);
    send.detectLosses(20);
    expect(transmit(send, 20)).toEqual([1]);
  });

  it('declares an overtaken message lost at once until the path is seen to reorder, then allows for reordering', () => {
    const send = new SendBuffer(64, new RttEstimator(100, 10, 1000, 5));
    const push = (n: number): void => {
      for (let i = 0; i < n; i++) send.push(10, `f${send.nextSeq}`);
    };
    // A slow first round trip keeps the smoothed RTT, and with it the reordering allowance, large for a while.
    push(1);
    transmit(send, 0);
    send.acknowledge(1, [], 100);
    push(5);
    expect(transmit(send, 200)).toEqual([2, 3, 4, 5, 6]);
    send.acknowledge(1, [[3, 6]], 201);
    send.detectLosses(201);
    expect(transmit(send, 201)).toEqual([2]);
    // 7 is overtaken and queued at once, then its first transmission turns out to have arrived: the path reorders.
    push(3);
    expect(transmit(send, 202)).toEqual([7, 8, 9]);
    send.acknowledge(6, [[8, 9]], 203);
    send.detectLosses(203);
    send.acknowledge(9, [], 203.5);
    // From now on an overtaken message gets the reordering allowance (a quarter of the smoothed RTT) first.
    push(3);
    expect(transmit(send, 204)).toEqual([10, 11, 12]);
    send.acknowledge(9, [[11, 12]], 204.5);
    expect(send.detectLosses(204.5)).toBeCloseTo(204 + send.rtt.reorderWindow);
    expect(transmit(send, 204.5)).toEqual([]);
    send.detectLosses(204 + send.rtt.reorderWindow);
    expect(transmit(send, 205)).toEqual([10]);
  });

  it('ignores acknowledgements of messages never sent', () => {
    const send = buffer(2);
    transmit(send, 0);
    expect(send.acknowledge(5, [[6, 9]], 1)).toEqual({ advanced: false, released: 0 });
    expect(send.cumAcked).toBe(0);
  });

  it('resends everything in flight after resendAll', () => {
    const send = buffer(3);
    transmit(send, 0);
    send.resendAll();
    expect(transmit(send, 1)).toEqual([1, 2, 3]);
  });
});

describe('SendBuffer loss detection cost', () => {
  it('looks at the few messages that decide, not at every message in flight, when an acknowledgement arrives', () => {
    const send = new SendBuffer(1024, new RttEstimator(100, 10, 1000, 5));
    for (let i = 0; i < 1024; i++) send.push(10, `f${send.nextSeq}`);
    expect(transmit(send, 0)).toHaveLength(1024);
    send.acknowledge(16, [], 4);
    const timeouts = jest.spyOn(send.rtt, 'backedOff');
    // Every message in flight has the same timeout, counted from the acknowledgement: the earliest decides.
    expect(send.detectLosses(4)).toBe(4 + send.rtt.probeTimeout);
    expect(timeouts.mock.calls.length).toBeLessThanOrEqual(1);
  });
});

describe('SendBuffer against the plain scan it replaced', () => {
  it('makes the same decisions as ReferenceSendBuffer on random sequences of sends, acknowledgements and losses', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const rand = seededRandom(seed);
      const pick = (n: number): number => Math.floor(rand() * n);
      const window = 1 + pick(64);
      const fast = new SendBuffer(window, new RttEstimator(100, 10, 1000, 5));
      const plain = new ReferenceSendBuffer(window, new RttEstimator(100, 10, 1000, 5));
      const sentSeqs = new Set<number>();
      let now = 0;
      const log: string[] = [];
      const step = (what: string, a: unknown, b: unknown): void => {
        log.push(what);
        if (JSON.stringify(a) !== JSON.stringify(b)) {
          throw new Error(`seed ${seed}: ${log.slice(-8).join(' | ')}: got ${JSON.stringify(a)}, expected ${JSON.stringify(b)}`);
        }
      };
      for (let op = 0; op < 300; op++) {
        now += pick(4) === 0 ? pick(400) : pick(8);
        const kind = pick(10);
        if (kind < 2) {
          const n = 1 + pick(8);
          for (let i = 0; i < n; i++) step('push', fast.push(10, `f${fast.nextSeq}`), plain.push(10, `f${plain.nextSeq}`));
        } else if (kind < 4) {
          const limit = pick(3) === 0 ? Infinity : pick(6);
          const out: number[][] = [[], []];
          for (const [i, buffer] of [fast, plain].entries()) {
            for (let entry = buffer.peek(); entry && out[i]!.length < limit; entry = buffer.peek()) {
              buffer.sent(entry, now);
              out[i]!.push(entry.seq);
            }
          }
          for (const seq of out[0]!) sentSeqs.add(seq);
          step(`transmit@${now}`, out[0], out[1]);
        } else if (kind < 8) {
          const seqs = [...sentSeqs];
          const cum = seqs.length === 0 || pick(3) === 0 ? fast.cumAcked : seqs[pick(seqs.length)]!;
          const ranges: [number, number][] = [];
          for (let i = pick(4); i > 0 && seqs.length > 0; i--) {
            const from = seqs[pick(seqs.length)]!;
            ranges.push([from, from + pick(5)]);
          }
          ranges.sort((x, y) => x[0] - y[0]);
          step(`ack ${cum} ${JSON.stringify(ranges)}@${now}`, fast.acknowledge(cum, ranges, now), plain.acknowledge(cum, ranges, now));
        } else if (kind < 9 || pick(10) > 0) {
          step(`detect@${now}`, fast.detectLosses(now), plain.detectLosses(now));
        } else {
          fast.resendAll();
          plain.resendAll();
          step('resendAll', null, null);
        }
        step('state', [fast.size, fast.bytes, fast.cumAcked, fast.nextSeq], [plain.size, plain.bytes, plain.cumAcked, plain.nextSeq]);
      }
    }
  });
});
