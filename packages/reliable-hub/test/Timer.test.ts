import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { Timer } from '../src/Timer';

describe('Timer', () => {
  beforeEach(() => {
    jest.useFakeTimers();
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('fires once at a deadline moved later, not at the one it was first set to', () => {
    const fired: number[] = [];
    const start = performance.now();
    const timer = new Timer(() => fired.push(performance.now() - start));
    timer.set(10);
    jest.advanceTimersByTime(5);
    timer.set(20);
    jest.advanceTimersByTime(10);
    expect(fired).toEqual([]);
    expect(timer.armed).toBe(true);
    jest.advanceTimersByTime(10);
    expect(fired).toEqual([25]);
    expect(timer.armed).toBe(false);
  });

  it('fires at a deadline moved earlier', () => {
    const fired: number[] = [];
    const start = performance.now();
    const timer = new Timer(() => fired.push(performance.now() - start));
    timer.set(50);
    timer.set(5);
    jest.advanceTimersByTime(60);
    expect(fired).toEqual([5]);
  });

  it('does not fire once cleared, and leaves no timeout behind', () => {
    const timer = new Timer(() => {
      throw new Error('fired after clear');
    });
    timer.set(10);
    timer.set(30);
    timer.clear();
    expect(jest.getTimerCount()).toBe(0);
    jest.advanceTimersByTime(100);
    expect(timer.armed).toBe(false);
  });
});
