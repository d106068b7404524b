import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { TurnClock } from '../src/TurnClock';

describe('TurnClock', () => {
  beforeEach(() => {
    jest.useFakeTimers({ doNotFake: ['queueMicrotask'] });
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('reads the clock once a turn', async () => {
    const clock = new TurnClock();
    const first = clock.now();
    jest.advanceTimersByTime(7);
    expect(clock.now()).toBe(first);
    await Promise.resolve();
    expect(clock.now()).toBe(first + 7);
  });
});
