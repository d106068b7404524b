import { TokenBucket } from '../src/TokenBucket';

describe('TokenBucket', () => {
  it('allows a burst of its capacity, then its rate, evenly', () => {
    const bucket = new TokenBucket(100, 10, 0);
    for (let i = 0; i < 10; i++) expect(bucket.tryTake(1, 0)).toBe(true);
    expect(bucket.tryTake(1, 0)).toBe(false);
    expect(bucket.msUntil(1, 0)).toBe(10);
    expect(bucket.tryTake(1, 10)).toBe(true);
    expect(bucket.tryTake(1, 10)).toBe(false);
    // Never more than its capacity, however long it waited.
    for (let i = 0; i < 10; i++) expect(bucket.tryTake(1, 60_000)).toBe(true);
    expect(bucket.tryTake(1, 60_000)).toBe(false);
  });

  it('lets one request larger than the bucket through when full, and take() goes into debt with the wait to pay it', () => {
    const bucket = new TokenBucket(1000, 100, 0);
    expect(bucket.tryTake(500, 0)).toBe(true);
    expect(bucket.tryTake(500, 0)).toBe(false);
    expect(bucket.take(100, 1000)).toBe(0);
    expect(bucket.take(300, 1000)).toBe(300);
    expect(bucket.holds(0.5, 1300)).toBe(false);
    expect(bucket.holds(0.5, 1350)).toBe(true);
  });

  it('with an infinite rate (a lifted limit) never says no', () => {
    const bucket = TokenBucket.forRate(Infinity, 8, 16, 0);
    expect(bucket.tryTake(1e12, 0)).toBe(true);
    expect(bucket.take(1e12, 0)).toBe(0);
    expect(bucket.msUntil(1e12, 0)).toBe(0);
  });
});
