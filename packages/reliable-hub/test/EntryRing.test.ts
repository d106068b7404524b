import { describe, expect, it } from '@jest/globals';
import { EntryRing } from '../src/EntryRing';
import type { Outgoing } from '../src/SendBuffer';

function entry(seq: number): Outgoing {
  return { seq, frame: `f${seq}`, size: 1, sentAt: -1, xmit: 0, retries: 0, retransmitted: false, queued: false };
}

describe('EntryRing', () => {
  it('finds held messages by sequence number and nothing else, across wrap-around', () => {
    const ring = new EntryRing();
    let floor = 0;
    for (let seq = 1; seq <= 1000; seq++) {
      ring.add(floor, entry(seq));
      // Keep about 40 held: the slots wrap around many times without growing.
      if (seq > 40) expect(ring.take(++floor)?.seq).toBe(floor);
    }
    expect(ring.size).toBe(40);
    expect(ring.get(960)).toBeUndefined();
    expect(ring.get(961)?.seq).toBe(961);
    expect(ring.get(1000)?.seq).toBe(1000);
    // Same slot as a held message, another sequence number.
    expect(ring.get(1000 + 64)).toBeUndefined();
    expect(ring.get(1000 - 64)).toBeUndefined();
    expect(ring.take(1001)).toBeUndefined();
    expect(ring.size).toBe(40);
  });

  it('grows when the held sequence numbers span more than its slots, holes from selective acknowledgements included', () => {
    const ring = new EntryRing();
    for (let seq = 1; seq <= 300; seq++) ring.add(0, entry(seq));
    // Selectively acknowledged: the cumulative acknowledgement stays at 0, so the span keeps growing.
    for (let seq = 2; seq <= 300; seq++) ring.take(seq);
    for (let seq = 301; seq <= 1000; seq++) ring.add(0, entry(seq));
    expect(ring.size).toBe(701);
    expect(ring.get(1)?.seq).toBe(1);
    for (let seq = 2; seq <= 300; seq++) expect(ring.get(seq)).toBeUndefined();
    for (let seq = 301; seq <= 1000; seq++) expect(ring.get(seq)?.seq).toBe(seq);
  });

  it('is empty after clear', () => {
    const ring = new EntryRing();
    for (let seq = 1; seq <= 100; seq++) ring.add(0, entry(seq));
    ring.clear();
    expect(ring.size).toBe(0);
    expect(ring.get(50)).toBeUndefined();
    ring.add(0, entry(1));
    expect(ring.get(1)?.seq).toBe(1);
  });
});
