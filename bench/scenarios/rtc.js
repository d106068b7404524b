'use strict';
// RtcHub over WebRTC data channels (@roamhq/wrtc) against raw simple-peer on the same library,
// both peers in this process (signaling for RtcHub over an InBrowserHub, so only the data channel
// path is measured). Run inside the loopback-only namespace (run.js does that).
//   small: 100 B strings, at most 1 000 in flight; VNF coalesces what is sent in one tick into one
//          data channel message, raw simple-peer sends one data channel message per message
//   bulk:  16 KiB binary messages, at most 1 MiB in flight
const { loadVnf } = require('../lib/vnf');
const { simplePeerPair } = require('../lib/simple-peer-pair');
const { median, createPump, withTimeout, messagePool } = require('../lib/measure');
const { row, atLeast } = require('../lib/rows');

const pool = messagePool(100);
const BULK = 16 * 1024;

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
  return { name: 'simple-peer', send: (m) => p1.send(m), onReceive: (fn) => (handler = fn), close };
}

async function rate(pair, { total, window, message }) {
  const pump = createPump({ total, window, send: (i) => pair.send(message(i)) });
  pair.onReceive(() => pump.ack());
  const ms = await withTimeout(pump.start(), 90_000, `${pair.name}: ${total} messages`);
  return total / (ms / 1000);
}

exports.run = async ({ quick, log }) => {
  const small = { total: quick ? 2_000 : 60_000, window: 1_000, message: (i) => pool[i & 1023] };
  const chunk = new Uint8Array(BULK).fill(7);
  const bulk = { total: quick ? 64 : 2_048, window: (1024 * 1024) / BULK, message: () => chunk }; // 32 MiB a round
  // wrtc's SCTP throughput on loopback swings by tens of percent from run to run, and the machine's
  // background with it: many short rounds alternating which system goes first, medians reported.
  const reps = quick ? 1 : 5;
  const bulkRounds = quick ? 1 : 10;
  const pairs = [];
  let vnfError = null;
  try {
    pairs.push(await rawPair());
    try {
      pairs.unshift(await vnfPair());
    } catch (err) {
      vnfError = err.notAvailable ? 'not available' : `failed: ${err.message}`;
      log(`RtcHub: ${err.message.split('\n')[0]}`);
    }
    const results = Object.fromEntries(pairs.map((p) => [p.name, { small: [], bulk: [] }]));
    for (const pair of pairs) {
      await rate(pair, { ...small, total: small.total / 10 });
      await rate(pair, { ...bulk, total: bulk.total / 8 });
    }
    const alternating = (r) => (r % 2 ? [...pairs].reverse() : pairs);
    for (let r = 0; r < reps; r++) {
      for (const pair of alternating(r)) results[pair.name].small.push(await rate(pair, small));
    }
    for (let r = 0; r < bulkRounds; r++) {
      for (const pair of alternating(r)) results[pair.name].bulk.push(((await rate(pair, bulk)) * BULK) / 1e6);
    }
    for (const pair of pairs) {
      const { small: s, bulk: b } = results[pair.name];
      log(`${pair.name}: small ${s.map((x) => x.toFixed(0)).join(', ')} msg/s; bulk ${b.map((x) => x.toFixed(0)).join(', ')} MB/s`);
    }
    const vnf = (metric) => (results.RtcHub ? median(results.RtcHub[metric]) : vnfError);
    const baseline = (metric) => ({ name: 'simple-peer', value: median(results['simple-peer'][metric]) });
    return {
      rows: [
        row({ scenario: 'rtc', metric: '100 B throughput', unit: 'msg/s', value: vnf('small'), baseline: baseline('small'), target: atLeast(5, '≥ 5× simple-peer') }),
        row({ scenario: 'rtc', metric: '16 KiB bulk', unit: 'MB/s', value: vnf('bulk'), baseline: baseline('bulk'), target: atLeast(0.9, '≥ 0.9× simple-peer') }),
      ],
      details: { small: { total: small.total, window: small.window }, bulk: { total: bulk.total, window: bulk.window, size: BULK }, reps, bulkRounds, results },
    };
  } finally {
    for (const pair of pairs) await pair.close();
  }
};
