import { VnfError } from '@vnf/core';

/** A seed as the user gives it: an unsigned 32-bit integer, or any non-empty string. */
export type ChaosSeed = number | string;

const MAX_SEED = 0xffff_ffff;

/**
 * Checks a user's seed and brings it to one canonical form: a decimal string that fits 32 bits becomes
 * that number, so `seed: 42` and `CHAOS_SEED=42` (read from the environment as a string) replay the same run.
 */
export function normalizeSeed(seed: unknown): ChaosSeed {
  if (typeof seed === 'number') {
    if (Number.isInteger(seed) && seed >= 0 && seed <= MAX_SEED) return seed;
  } else if (typeof seed === 'string' && seed.length > 0) {
    if (/^(0|[1-9]\d{0,9})$/.test(seed) && Number(seed) <= MAX_SEED) return Number(seed);
    return seed;
  }
  throw new VnfError(
    'INVALID_ARGUMENT',
    `seed must be an integer from 0 to ${MAX_SEED} or a non-empty string; got ${String(seed)}. ` +
      'Leave it out to get a random seed (read it back from hub.seed to replay the run).',
  );
}

/** A fresh random seed, for runs that did not ask for one. */
export function randomSeed(): number {
  const crypto = (globalThis as { crypto?: { getRandomValues?: (a: Uint32Array) => Uint32Array } }).crypto;
  if (crypto?.getRandomValues) return crypto.getRandomValues(new Uint32Array(1))[0];
  return Math.floor(Math.random() * (MAX_SEED + 1));
}

/**
 * An independent random stream for the directed pair from → to: uniform numbers in [0, 1).
 * Each pair has its own stream, so traffic on other pairs never shifts this pair's decisions.
 * Lengths prefix the parts, so ("a:b", "c") and ("a", "b:c") cannot collide.
 */
export function pairStream(seed: ChaosSeed, from: string, to: string): () => number {
  const [a, b, c, d] = cyrb128(`${typeof seed}:${seed}|${from.length}:${from}|${to.length}:${to}`);
  const next = sfc32(a, b, c, d);
  // sfc32 needs a few rounds before nearby seeds stop producing correlated first outputs.
  for (let i = 0; i < 15; i++) next();
  return next;
}

/** cyrb128: a small, well-mixed 128-bit string hash, used only to seed sfc32. */
function cyrb128(text: string): [number, number, number, number] {
  let h1 = 1779033703;
  let h2 = 3144134277;
  let h3 = 1013904242;
  let h4 = 2773480762;
  for (let i = 0; i < text.length; i++) {
    const k = text.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}

/** sfc32 (Chris Doty-Humphrey's Small Fast Counting generator): passes PractRand, 128-bit state, no dependency. */
function sfc32(a: number, b: number, c: number, d: number): () => number {
  return () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
}
