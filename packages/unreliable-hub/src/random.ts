import { VnfError } from '@vnf/core';

/** A seed as the user gives it: an unsigned 32-bit integer, or any non-empty string. */
export type ChaosSeed = number | string;

const MAX_SEED = 0xffff_ffff;

/** What `seed` accepts, as messages say it. */
export const SEED_EXPECTED = `an integer from 0 to ${MAX_SEED} or a non-empty string`;

/** True for a seed a user may give: an integer from 0 to 2^32−1, or a non-empty string. */
export function isChaosSeed(seed: unknown): seed is ChaosSeed {
  if (typeof seed === 'number') return Number.isInteger(seed) && seed >= 0 && seed <= MAX_SEED;
  return typeof seed === 'string' && seed.length > 0;
}

/**
 * Checks a user's seed and brings it to one canonical form: a decimal string that fits 32 bits becomes
 * that number, so `seed: 42` and `CHAOS_SEED=42` (read from the environment as a string) replay the same run.
 */
export function normalizeSeed(seed: unknown): ChaosSeed {
  if (!isChaosSeed(seed)) {
    throw new VnfError(
      'INVALID_ARGUMENT',
      `seed must be ${SEED_EXPECTED}; got ${String(seed)}. ` +
        'Leave it out to get a random seed (read it back from hub.seed to replay the run).',
    );
  }
  if (typeof seed === 'string' && /^(0|[1-9]\d{0,9})$/.test(seed) && Number(seed) <= MAX_SEED) return Number(seed);
  return seed;
}

/** A fresh random seed, for runs that did not ask for one. */
export function randomSeed(): number {
  const crypto = (globalThis as { crypto?: { getRandomValues?: (a: Uint32Array) => Uint32Array } }).crypto;
  if (crypto?.getRandomValues) return crypto.getRandomValues(new Uint32Array(1))[0];
  return Math.floor(Math.random() * (MAX_SEED + 1));
}

/**
 * Why a hash and not a generator: the chaos used to draw a fixed number of values per message from a per-pair
 * stream, so giving a new rule a draw would have moved every later value and changed what every recorded seed
 * replays. Instead each random value is a pure function of (seed, from → to, seq, draw name): a new draw only
 * adds a name, the draws of one message are independent of each other, and message n needs no replay of 1…n−1.
 *
 * The function is small and written out here on purpose (no dependency): it must never change under us, since
 * a changed bit changes every replay, and it only needs to be well mixed, not cryptographic.
 *
 * - `pairKey`: cyrb128 of the seed and the directed pair, once per pair: 128 bits, four 32-bit words.
 * - `drawName`: the 32-bit constant of a draw, the first word of cyrb128 of its name, once per name.
 * - `draw`: four rounds of Chris Wellons' lowbias32 finalizer (a bijection on 32 bits with near-ideal
 *   avalanche), each after xoring in one key word; round 1 also xors in the seq's low 32 bits, round 2 its high
 *   bits, round 3 the draw constant. The seq is fully mixed before the draw constant enters, and two rounds
 *   follow it, so two draws of one message, or one draw of two messages, share no structure (had the constant
 *   been xored into the seq before mixing, one draw would repeat another's values at permuted seqs).
 *   The 32 bits out, divided by 2^32, are a uniform number in [0, 1).
 */

/** The 128-bit key of one directed pair under one seed. */
export type PairKey = readonly [number, number, number, number];

/**
 * The key of the directed pair from → to: draws of different seeds or pairs are unrelated.
 * Lengths prefix the parts, so ("a:b", "c") and ("a", "b:c") cannot collide; the seed's type is part of it, so a
 * string seed never collides with a number (a decimal string has already become its number: see normalizeSeed).
 */
export function pairKey(seed: ChaosSeed, from: string, to: string): PairKey {
  return cyrb128(`${typeof seed}:${seed}|${from.length}:${from}|${to.length}:${to}`);
}

/** The 32-bit constant that names one kind of draw ('drop', 'jitter', …). Never rename a draw: it would change its replays. */
export function drawName(name: string): number {
  return cyrb128(`draw|${name.length}:${name}`)[0];
}

/** The draw named `name` (a `drawName` constant) for message `seq` of the pair with `key`: uniform in [0, 1). */
export function draw(key: PairKey, seq: number, name: number): number {
  return drawBits(key, seq, name) / 4294967296;
}

/** The 32 bits behind `draw` (exposed for tests that pin the hash). `seq` is an integer 0…2^53. */
export function drawBits(key: PairKey, seq: number, name: number): number {
  const seqLow = seq >>> 0;
  const seqHigh = Math.floor(seq / 4294967296) >>> 0;
  let h = lowbias32(key[0] ^ seqLow);
  h = lowbias32(h ^ key[1] ^ seqHigh);
  h = lowbias32(h ^ key[2] ^ name);
  h = lowbias32(h ^ key[3]);
  return h;
}

/** lowbias32 (Chris Wellons, "hash-prospector"): a 32-bit integer finalizer with lower bias than murmur3's fmix32. */
function lowbias32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** cyrb128 (bryc): a small, well-mixed 128-bit string hash. */
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
