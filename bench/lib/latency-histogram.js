'use strict';
// A latency histogram cheap enough to fill once per delivery (millions a second) and small enough to send over
// IPC: 1 µs buckets below 1 ms, then buckets 1 % wide up to 10 min. Percentiles are exact to a bucket (≤ 1 %).
const LINEAR = 1000;
const LOG_STEP = Math.log(1.01);
const SIZE = LINEAR + Math.ceil(Math.log(600_000) / LOG_STEP) + 1;

const create = () => new Float64Array(SIZE);

/** Counts one latency of `ms` milliseconds. */
function add(hist, ms) {
  let i;
  if (ms < 1) i = ms > 0 ? Math.floor(ms * 1000) : 0;
  else i = Math.min(SIZE - 1, LINEAR + Math.floor(Math.log(ms) / LOG_STEP));
  hist[i]++;
}

/** The value a bucket stands for (its middle), ms. */
const valueOf = (i) => (i < LINEAR ? (i + 0.5) / 1000 : Math.exp((i - LINEAR + 0.5) * LOG_STEP));

/** The non-empty buckets as [index, count] pairs (for IPC). */
const sparse = (hist) => {
  const out = [];
  for (let i = 0; i < hist.length; i++) if (hist[i]) out.push([i, hist[i]]);
  return out;
};

/** Merges sparse histograms into one dense one. */
function merge(list) {
  const hist = create();
  for (const pairs of list) for (const [i, c] of pairs) hist[i] += c;
  return hist;
}

/** The p-th percentile (0..100) of a dense histogram, nearest rank; NaN when empty. */
function percentile(hist, p) {
  let total = 0;
  for (let i = 0; i < hist.length; i++) total += hist[i];
  if (total === 0) return NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * total));
  let seen = 0;
  for (let i = 0; i < hist.length; i++) {
    seen += hist[i];
    if (seen >= rank) return valueOf(i);
  }
  return valueOf(hist.length - 1);
}

module.exports = { create, add, sparse, merge, percentile };
