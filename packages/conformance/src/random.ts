/**
 * A small seeded generator (mulberry32) for tests whose decisions must replay from a seed: the same seed gives the
 * same numbers in [0, 1), on every machine. Print the seed when such a test fails.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
