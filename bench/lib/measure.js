'use strict';
// Small measuring tools shared by the scenarios.

const now = () => Number(process.hrtime.bigint()) / 1e6; // ms, sub-microsecond resolution

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The p-th percentile (0..100) of already sorted values, nearest rank. */
function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

/**
 * Sends `total` messages keeping at most `window` of them in flight (sent, not yet received).
 * Sender and receiver live in this process, so the window is exact and the same for every
 * transport: no transport can win by buffering unboundedly, and none is starved. Refilling only
 * when half the window has drained lets a hub batch what is sent in one turn, as real apps do.
 * Call `ack(n)` from the receiver; `start()` resolves with the elapsed ms when all arrived.
 */
function createPump({ total, window, send }) {
  let sent = 0;
  let acked = 0;
  let started = 0;
  let finish;
  const done = new Promise((resolve) => (finish = resolve));
  const low = Math.max(1, Math.floor(window / 2));
  const fill = () => {
    while (sent < total && sent - acked < window) send(sent++);
  };
  return {
    start() {
      started = now();
      fill();
      return done;
    },
    ack(n = 1) {
      acked += n;
      if (acked >= total) finish(now() - started);
      else if (sent - acked <= low) fill();
    },
    get acked() {
      return acked;
    },
  };
}

/** Rejects after `ms` with `what` in the message, so a stuck transport ends a scenario instead of hanging it. */
function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Samples this process's memory every `intervalMs` and keeps the peaks. A timer cannot see inside
 * a long synchronous stretch, so `stop()` also reads the kernel's exact peak RSS (maxRSS), which is
 * only meaningful when the measured transfer is the biggest thing the process did (one variant per process).
 */
function sampleMemory(intervalMs = 10) {
  const peak = { rss: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
  const take = () => {
    const m = process.memoryUsage();
    for (const k of Object.keys(peak)) if (m[k] > peak[k]) peak[k] = m[k];
  };
  take();
  const timer = setInterval(take, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      take();
      return { ...peak, maxRss: process.resourceUsage().maxRSS * 1024 };
    },
  };
}

/** Full garbage collection when the process runs with --expose-gc (the hosts do), then a turn for finalizers. */
async function settle() {
  for (let i = 0; i < 3; i++) {
    if (global.gc) global.gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * `count` distinct flat `length`-byte ASCII strings. Made up front so building messages costs the
 * measured loop nothing, and flat (not V8 cons-strings) so no transport pays for flattening.
 */
function messagePool(length, count = 1024) {
  const pool = [];
  for (let i = 0; i < count; i++) {
    const head = `${i}:`;
    pool.push(Buffer.from(head + 'x'.repeat(Math.max(0, length - head.length))).toString('latin1'));
  }
  return pool;
}

module.exports = { now, median, percentile, createPump, withTimeout, sampleMemory, settle, sleep, messagePool };
