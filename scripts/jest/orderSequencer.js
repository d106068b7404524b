// Test file order for `npm test`. By default jest's own (slowest files first, so two workers finish together).
// With VNF_TEST_ORDER_SEED=<n> (or `random`) the files run in an order shuffled from that seed, printed so a
// failure that depends on order can be replayed: `VNF_TEST_ORDER_SEED=<n> npm test`.
const Sequencer = require('@jest/test-sequencer').default;

/** mulberry32: a tiny seeded generator; only the file order depends on it. */
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class OrderSequencer extends Sequencer {
  sort(tests) {
    const wanted = process.env.VNF_TEST_ORDER_SEED;
    if (!wanted) return super.sort(tests);
    const seed = wanted === 'random' ? Math.floor(Math.random() * 2 ** 32) : Number(wanted);
    if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) {
      throw new Error(`VNF_TEST_ORDER_SEED must be an integer from 0 to 4294967295 or "random"; got ${wanted}`);
    }
    process.stderr.write(`test files in shuffled order: VNF_TEST_ORDER_SEED=${seed}\n`);
    const random = mulberry32(seed);
    const shuffled = [...tests].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
    }
    return shuffled;
  }
}

module.exports = OrderSequencer;
