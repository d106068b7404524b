import { describe, expect, it } from '@jest/globals';
import { VnfError } from '@vnf/core';
import { normalizeSeed, pairStream, randomSeed } from '../src/random';

const take = (next: () => number, n: number): number[] => Array.from({ length: n }, next);

describe('pairStream', () => {
  it('repeats for the same seed and pair', () => {
    expect(take(pairStream(1, 'a', 'b'), 50)).toEqual(take(pairStream(1, 'a', 'b'), 50));
  });

  it('differs by seed, by direction and by how the evas split', () => {
    const base = take(pairStream(1, 'a', 'b'), 20);
    expect(take(pairStream(2, 'a', 'b'), 20)).not.toEqual(base);
    expect(take(pairStream(1, 'b', 'a'), 20)).not.toEqual(base);
    expect(take(pairStream(1, 'a:b', 'c'), 20)).not.toEqual(take(pairStream(1, 'a', 'b:c'), 20));
    expect(take(pairStream('1x', 'a', 'b'), 20)).not.toEqual(base);
  });

  it('is uniform enough in [0, 1)', () => {
    const values = take(pairStream(99, 'x', 'y'), 20_000);
    expect(Math.min(...values)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...values)).toBeLessThan(1);
    const mean = values.reduce((s, v) => s + v, 0) / values.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.02);
    const buckets = new Array(10).fill(0);
    for (const v of values) buckets[Math.floor(v * 10)] += 1;
    for (const count of buckets) expect(Math.abs(count - 2000)).toBeLessThan(200);
  });
});

describe('normalizeSeed', () => {
  it('keeps integers and strings; a decimal string becomes its number', () => {
    expect(normalizeSeed(0)).toBe(0);
    expect(normalizeSeed(4294967295)).toBe(4294967295);
    expect(normalizeSeed('123')).toBe(123);
    expect(normalizeSeed('0123')).toBe('0123');
    expect(normalizeSeed('4294967296')).toBe('4294967296');
    expect(normalizeSeed('ci-run-7')).toBe('ci-run-7');
  });

  it.each([-1, 0.5, NaN, Infinity, 2 ** 32, '', null, {}])('rejects %p', (seed) => {
    expect(() => normalizeSeed(seed)).toThrow(VnfError);
  });

  it('randomSeed gives 32-bit integers', () => {
    const seed = randomSeed();
    expect(Number.isInteger(seed)).toBe(true);
    expect(normalizeSeed(seed)).toBe(seed);
  });
});
