import { describe, expect, it } from '@jest/globals';
import { VnfError } from '@vnf/core';
import { draw, drawBits, drawName, normalizeSeed, pairKey, randomSeed } from '../src/random';
import type { ChaosSeed } from '../src/random';

const DROP = drawName('drop');
const hex = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`;
const draws = (seed: ChaosSeed, from: string, to: string, count: number, name = DROP): number[] => {
  const key = pairKey(seed, from, to);
  return Array.from({ length: count }, (_, i) => draw(key, i + 1, name));
};

describe('draw', () => {
  it('is pinned: these outputs are what every recorded seed replays (never change them)', () => {
    // Checked against an independent reimplementation of the algorithm documented in src/random.ts.
    expect(pairKey(42, 'a', 'b').map(hex)).toEqual(['0xe4dfc5b4', '0xe0bb7b24', '0xdac5d6a4', '0x92917ca3']);
    expect(
      Object.fromEntries(['cut', 'drop', 'duplicate', 'reorder', 'jitter', 'duplicate.jitter'].map((n) => [n, hex(drawName(n))])),
    ).toEqual({
      cut: '0x8a4b98f7',
      drop: '0x4afd00ea',
      duplicate: '0xf99c2337',
      reorder: '0x1292e5f5',
      jitter: '0x383a1744',
      'duplicate.jitter': '0x24eeeb41',
    });
    const cases: [ChaosSeed, string, string, number, string, string][] = [
      [42, 'a', 'b', 1, 'drop', '0x58e7a8b6'],
      [42, 'a', 'b', 2, 'drop', '0x33c5a385'],
      [42, 'b', 'a', 1, 'drop', '0x21ec8557'],
      [42, 'a', 'b', 1, 'duplicate', '0x9a927000'],
      ['nightly-run', 'alice', 'bob', 7, 'jitter', '0xaaafc7c8'],
      [0, 'a', 'b', 2 ** 32 + 1, 'reorder', '0x511614ac'],
      [4294967295, 'x', 'y', Number.MAX_SAFE_INTEGER, 'cut', '0xcdb4fd22'],
    ];
    for (const [seed, from, to, seq, name, expected] of cases) {
      expect([seed, from, to, seq, name, hex(drawBits(pairKey(seed, from, to), seq, drawName(name)))]).toEqual([
        seed, from, to, seq, name, expected,
      ]);
    }
    expect(draw(pairKey(42, 'a', 'b'), 1, DROP)).toBe(0x58e7a8b6 / 2 ** 32);
  });

  it('is a pure function: the same inputs give the same value, in any order', () => {
    const key = pairKey(1, 'a', 'b');
    const forward = Array.from({ length: 50 }, (_, i) => draw(key, i + 1, DROP));
    const backward = Array.from({ length: 50 }, (_, i) => draw(pairKey(1, 'a', 'b'), 50 - i, DROP)).reverse();
    expect(backward).toEqual(forward);
  });

  it('differs by seed, by direction, by how the evas split, by seed type, by draw name and by seq beyond 32 bits', () => {
    const base = draws(1, 'a', 'b', 20);
    expect(draws(2, 'a', 'b', 20)).not.toEqual(base);
    expect(draws(1, 'b', 'a', 20)).not.toEqual(base);
    expect(draws(1, 'a:b', 'c', 20)).not.toEqual(draws(1, 'a', 'b:c', 20));
    expect(draws('1x', 'a', 'b', 20)).not.toEqual(base);
    expect(draws(1, 'a', 'b', 20, drawName('duplicate'))).not.toEqual(base);
    const key = pairKey(1, 'a', 'b');
    expect(draw(key, 2 ** 32 + 1, DROP)).not.toBe(draw(key, 1, DROP));
  });

  it('stays in [0, 1)', () => {
    const values = draws(99, 'x', 'y', 20_000);
    expect(Math.min(...values)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...values)).toBeLessThan(1);
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

  it('makes CHAOS_SEED=42 (a string) draw exactly what seed: 42 draws', () => {
    expect(draws(normalizeSeed('42'), 'a', 'b', 30)).toEqual(draws(42, 'a', 'b', 30));
    expect(draws(normalizeSeed('042'), 'a', 'b', 30)).not.toEqual(draws(42, 'a', 'b', 30));
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
