'use strict';
// RtcHub over WebRTC data channels (@roamhq/wrtc) against raw simple-peer on the same library,
// both peers in this process (signaling for RtcHub over an InBrowserHub, so only the data channel
// path is measured). Run inside the loopback-only namespace (run.js does that).
//   small: 100 B strings, at most 1 000 in flight. RtcHub coalesces what is sent in one tick into
//          data channel messages of up to 64 KiB. The baseline is simple-peer batched per tick (one
//          data channel message of [length, payload] records per tick, split by the receiver), flushed
//          on a microtask and on setImmediate, the faster of the two; raw simple-peer, one data channel
//          message per message, is shown too.
//   bulk:  16 KiB binary messages, at most 1 MiB in flight, against raw simple-peer sending each as
//          one data channel message (RtcHub coalesces them three to a frame).
const { loadVnf } = require('../lib/vnf');
const { simplePeerPair, batchedPerTick } = require('../lib/simple-peer-pair');
const { median, createPump, withTimeout, messagePool } = require('../lib/measure');
const { row, atLeast } = require('../lib/rows');

const pool = messagePool(100);
const BULK = 16 * 1024;
const RAW = 'simple-peer';
const BATCHED = { microtask: 'simple-peer batched per tick (microtask)', immediate: 'simple-peer batched per tick (setImmediate)' };

async function vnfPair() {
  const { RtcHub } = loadVnf('rtc-hub', ['RtcHub']);
  const { InBrowserHub } = loadVnf('in-browser-hub', ['InBrowserHub']);
  const hub = new RtcHub(new InBrowserHub());
  const a = hub.openEndpoint('a');
  const b = hub.openEndpoint('b');
  const event = await a.openConnection('b');
  if (event.status !== 'CONNECTED') throw new Error(`RtcHub openConnection: ${event.status} ${event.reason || ''}`);
  return {
    name: 'RtcHub',
    send: (m) => a.send('b', m),
    onReceive: (fn) => (b.onMessage = fn),
    close: () => hub.close(),
  };
}

async function rawPair() {
  const { p1, p2, close } = await simplePeerPair();
  let handler = null;
  p2.on('data', () => handler());
  return { name: RAW, send: (m) => p1.send(m), onReceive: (fn) => (handler = fn), close };
}

async function batchedPair(flush) {
  const { p1, p2, close } = await simplePeerPair();
  const batch = batchedPerTick(p1, p2, { flush });
  return { name: BATCHED[flush], send: batch.send, onReceive: (fn) => batch.onMessage(fn), close };
}

async function rate(pair, { total, window, message }) {
  const pump = createPump({ total, window, send: (i) => pair.send(message(i)) });
  pair.onReceive(() => pump.ack());
  const ms = await withTimeout(pump.start(), 90_000, `${pair.name}: ${total} messages`);
  return total / (ms / 1000);
}

/** `pairs` in turn `rounds` times, each round starting one further along, so none always goes first. */
async function interleaved(pairs, rounds, measure) {
  const out = new Map(pairs.map((p) => [p, []]));
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < pairs.length; i++) {
      const pair = pairs[(i + r) % pairs.length];
      out.get(pair).push(await measure(pair));
    }
  }
  return out;
}

const range = (values) => [Math.min(...values), Math.max(...values)];
const fmt = (values) => values.map((x) => x.toFixed(0)).join(', ');

exports.run = async ({ quick, log }) => {
  const small = { total: quick ? 2_000 : 60_000, window: 1_000, message: (i) => pool[i & 1023] };
  const chunk = new Uint8Array(BULK).fill(7);
  const bulk = { total: quick ? 64 : 2_048, window: (1024 * 1024) / BULK, message: () => chunk }; // 32 MiB a round
  // wrtc's SCTP throughput on loopback swings by tens of percent from run to run, and the machine's
  // background with it: many short rounds rotating which system goes first, medians reported.
  const reps = quick ? 1 : 5;
  const bulkRounds = quick ? 1 : 10;
  const pairs = [];
  let vnf = null;
  let vnfError = null;
  try {
    const raw = await rawPair();
    pairs.push(raw);
    const batched = [await batchedPair('microtask'), await batchedPair('immediate')];
    pairs.push(...batched);
    try {
      vnf = await vnfPair();
      pairs.unshift(vnf);
    } catch (err) {
      vnfError = err.notAvailable ? 'not available' : `failed: ${err.message}`;
      log(`RtcHub: ${err.message.split('\n')[0]}`);
    }
    const bulkPairs = vnf ? [vnf, raw] : [raw];
    // Each metric's warm-up right before its rounds, so neither leaves the other's channels in another state.
    for (const pair of pairs) await rate(pair, { ...small, total: small.total / 10 });
    // Unbatched simple-peer is an order of magnitude slower: a third of the messages keeps its rounds short.
    const unbatched = { ...small, total: Math.round(small.total / 3) };
    const smallRates = await interleaved(pairs, reps, (pair) => rate(pair, pair === raw ? unbatched : small));
    for (const pair of bulkPairs) await rate(pair, { ...bulk, total: bulk.total / 8 });
    const bulkRates = await interleaved(bulkPairs, bulkRounds, async (pair) => ((await rate(pair, bulk)) * BULK) / 1e6);

    const results = {};
    for (const pair of pairs) {
      const s = smallRates.get(pair);
      const b = bulkRates.get(pair);
      results[pair.name] = { small: s, smallMedian: median(s), smallRange: range(s) };
      if (b) Object.assign(results[pair.name], { bulk: b, bulkMedian: median(b), bulkRange: range(b) });
      log(`${pair.name}: 100 B ${fmt(s)} msg/s${b ? `; bulk ${fmt(b)} MB/s` : ''}`);
    }
    // The honest baseline is the better of the two ways to flush a batch.
    const [best] = batched.map((p) => ({ name: p.name, value: results[p.name].smallMedian })).sort((x, y) => y.value - x.value);
    const baselineSmall = { name: 'simple-peer batched per tick', value: best.value };
    const value = (metric) => (vnf ? results.RtcHub[`${metric}Median`] : vnfError);
    const ratios = vnf
      ? {
          smallToBatched: results.RtcHub.smallMedian / best.value,
          smallToRaw: results.RtcHub.smallMedian / results[RAW].smallMedian,
          bulkToRaw: results.RtcHub.bulkMedian / results[RAW].bulkMedian,
        }
      : null;
    if (ratios) log(`RtcHub / ${best.name}: 100 B ${ratios.smallToBatched.toFixed(2)}×; RtcHub / raw simple-peer: 100 B ${ratios.smallToRaw.toFixed(2)}×, bulk ${ratios.bulkToRaw.toFixed(2)}×`);
    return {
      rows: [
        row({ scenario: 'rtc', metric: '100 B throughput', unit: 'msg/s', value: value('small'), baseline: baselineSmall, target: atLeast(0.9, '≥ 0.9× batched simple-peer') }),
        row({ scenario: 'rtc', metric: '100 B throughput', unit: 'msg/s', value: value('small'), baseline: { name: 'simple-peer unbatched', value: results[RAW].smallMedian } }),
        row({ scenario: 'rtc', metric: '16 KiB bulk', unit: 'MB/s', value: value('bulk'), baseline: { name: RAW, value: results[RAW].bulkMedian }, target: atLeast(0.95, '≥ 0.95× simple-peer') }),
      ],
      details: {
        small: { total: small.total, totalUnbatched: unbatched.total, window: small.window, size: 100 },
        bulk: { total: bulk.total, window: bulk.window, size: BULK },
        reps,
        bulkRounds,
        batchedBaseline: best.name,
        ratios,
        results,
      },
    };
  } finally {
    for (const pair of pairs) await pair.close();
  }
};
