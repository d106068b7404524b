import { describe, expect, it } from '@jest/globals';
import { REPLAY_WINDOW, ReplayWindow } from '../src/ReplayWindow';

describe('ReplayWindow', () => {
  it('accepts each counter once, in any order within the window', () => {
    const window = new ReplayWindow();
    const order = [5, 1, 3, 2, 9, 4, 8, 7, 6];
    expect(order.map((c) => window.accept(c))).toEqual(order.map(() => true));
    expect(order.map((c) => window.accept(c))).toEqual(order.map(() => false));
  });

  it('drops a counter that fell out of the window, and keeps the ones still in it', () => {
    const window = new ReplayWindow();
    expect(window.accept(1)).toBe(true);
    expect(window.accept(3)).toBe(true);
    expect(window.accept(REPLAY_WINDOW + 1)).toBe(true);
    // 1 is now REPLAY_WINDOW below the highest: too old to tell from a copy. 2 was never seen, and is still inside.
    expect(window.accept(1)).toBe(false);
    expect(window.accept(2)).toBe(true);
    expect(window.accept(3)).toBe(false);
    expect(window.accept(2)).toBe(false);
  });

  it('forgets what a long jump leaves behind, and remembers what arrives after it', () => {
    const window = new ReplayWindow();
    for (let c = 1; c <= 100; c++) window.accept(c);
    const far = 10 * REPLAY_WINDOW;
    expect(window.accept(far)).toBe(true);
    expect(window.accept(100)).toBe(false);
    expect(window.accept(far - REPLAY_WINDOW + 1)).toBe(true);
    expect(window.accept(far - REPLAY_WINDOW)).toBe(false);
    expect(window.accept(far)).toBe(false);
  });

  it('slides over slots it used before without mistaking a new counter for a copy', () => {
    const window = new ReplayWindow();
    // Every counter, then every other: each slot is reused many times.
    for (let c = 1; c <= 5 * REPLAY_WINDOW; c++) expect(window.accept(c)).toBe(true);
    for (let c = 5 * REPLAY_WINDOW + 2; c <= 8 * REPLAY_WINDOW; c += 2) expect(window.accept(c)).toBe(true);
    for (let c = 7 * REPLAY_WINDOW + 1; c <= 8 * REPLAY_WINDOW; c += 2) expect(window.accept(c)).toBe(true);
    for (let c = 7 * REPLAY_WINDOW + 1; c <= 8 * REPLAY_WINDOW; c++) expect(window.accept(c)).toBe(false);
  });

  it('handles counters far above 2^32', () => {
    const window = new ReplayWindow();
    const base = 2 ** 40;
    expect(window.accept(base + 7)).toBe(true);
    expect(window.accept(base + 5)).toBe(true);
    expect(window.accept(base + 7)).toBe(false);
    expect(window.accept(base + 5)).toBe(false);
    expect(window.accept(base + 6)).toBe(true);
  });
});
