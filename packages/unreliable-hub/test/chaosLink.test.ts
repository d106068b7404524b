import { trackResources } from '@vnf/conformance';
import { describe, expect, it } from '@jest/globals';
import { ChaosLink } from '../src/chaosLink';
import type { LinkItem } from '../src/chaosLink';
import { until } from './helpers';

function link() {
  const released: unknown[] = [];
  let timerRuns = 0;
  const l = new ChaosLink(
    (item: LinkItem) => released.push(item.message),
    () => (timerRuns += 1),
  );
  return { l, released, timerRuns: () => timerRuns };
}

describe('ChaosLink', () => {
  it('hands on a copy with no delay before add returns', () => {
    const { l, released } = link();
    l.add('now', 3, 1, 0, Infinity, null);
    expect(released).toEqual(['now']);
    expect(l.idle).toBe(true);
  });

  it('releases held copies in release-time order, keeping the order sent for equal times', async () => {
    const { l, released, timerRuns } = link();
    l.add('late', 4, 1, 30, Infinity, null);
    l.add('early', 5, 2, 5, Infinity, null);
    l.add('early-too', 9, 3, 5, Infinity, null);
    expect(released).toEqual([]);
    expect(l.bufferedBytes).toBe(18);
    await until('three releases', () => released.length === 3);
    expect(released).toEqual(['early', 'early-too', 'late']);
    expect(l.bufferedBytes).toBe(0);
    expect(timerRuns()).toBeGreaterThan(0);
  });

  it('lets `distance` later copies overtake a held one', () => {
    const { l, released } = link();
    l.add('held', 1, 1, 0, Infinity, { distance: 2, maxHoldMs: 60_000 });
    l.add('x', 1, 2, 0, Infinity, null);
    expect(released).toEqual(['x']);
    l.add('y', 1, 3, 0, Infinity, null);
    l.add('z', 1, 4, 0, Infinity, null);
    expect(released).toEqual(['x', 'y', 'held', 'z']);
    l.close();
  });

  it('close returns what it held, in the order sent, clears its timer and hands nothing on afterwards', () => {
    const resources = trackResources();
    const { l, released } = link();
    l.add('a', 1, 1, 60_000, Infinity, null);
    l.add('b', 1, 2, 0, Infinity, { distance: 5, maxHoldMs: 60_000 });
    expect(resources.count('Timeout')).toBe(1);
    const dropped = l.close();
    expect(resources.count('Timeout')).toBe(0);
    resources.stop();
    expect(dropped.map((i) => i.message)).toEqual(['a', 'b']);
    l.add('after', 1, 3, 0, Infinity, null);
    expect(released).toEqual([]);
    expect(l.bufferedBytes).toBe(0);
  });
});
