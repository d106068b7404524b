import { describe, expect, it } from '@jest/globals';
import { EventLog } from '../src/eventLog';
import type { ChaosEvent } from '../src';

const event = (seq: number): ChaosEvent => ({ seq, from: 'a', to: 'b', action: 'delivered', atMs: seq });

describe('EventLog', () => {
  it('keeps the latest entries, oldest first', () => {
    const log = new EventLog(3);
    for (let i = 1; i <= 7; i++) log.push(event(i));
    expect(log.toArray().map((e) => e.seq)).toEqual([5, 6, 7]);
  });

  it('keeps nothing with capacity 0', () => {
    const log = new EventLog(0);
    log.push(event(1));
    expect(log.toArray()).toEqual([]);
  });

  it('hands out copies and can be cleared', () => {
    const log = new EventLog(2);
    log.push(event(1));
    log.toArray()[0].seq = 99;
    expect(log.toArray()[0].seq).toBe(1);
    log.clear();
    expect(log.toArray()).toEqual([]);
  });
});
