'use strict';
// Relay throughput and round-trip time through a server in its own process: WebSocketHub through
// the broker, against a minimal raw `ws` relay (servers/raw-ws.js) and a socket.io 4 relay
// (servers/socketio.js). Sender and receiver are in this process; 100 B string messages.
//   throughput: `total` messages a → b, at most `window` in flight (lib/measure.js createPump);
//               5 reps per system in rotated order, the median reported
//   RTT: a sends, b echoes, a sends the next on arrival; one message in flight; 20 short rounds
//        per system interleaved, percentiles over all round trips; once with both processes pinned
//        to one CPU (the figure the target is judged on) and once free
const { startServer } = require('../lib/server');
const { systems } = require('../lib/relay-systems');
const { median, percentile, now, createPump, withTimeout, messagePool } = require('../lib/measure');
const { row, atLeast, atMost } = require('../lib/rows');
const { pinTogether } = require('../lib/affinity');

const pool = messagePool(100);

async function throughput(pair, total, window) {
  const pump = createPump({ total, window, send: (i) => pair.a.send(pool[i & 1023]) });
  pair.b.onmessage = () => pump.ack();
  const ms = await withTimeout(pump.start(), 60_000, `relay of ${total} messages`);
  return total / (ms / 1000);
}

async function roundTrips(pair, samples) {
  const times = [];
  pair.b.onmessage = (s) => pair.b.send(s);
  await withTimeout(
    new Promise((resolve) => {
      let sentAt = 0;
      const next = () => {
        sentAt = now();
        pair.a.send(pool[times.length & 1023]);
      };
      pair.a.onmessage = () => {
        times.push(now() - sentAt);
        if (times.length === samples) resolve();
        else next();
      };
      next();
    }),
    60_000,
    `${samples} round trips`,
  );
  return times;
}

exports.run = async ({ quick, log }) => {
  const total = quick ? 5_000 : 200_000;
  const window = 1_000;
  const samples = quick ? 200 : 10_000;
  const reps = quick ? 1 : 5;
  const rounds = quick ? 1 : 20;
  const live = [];
  const unavailable = {};
  try {
    for (const system of systems) {
      let server = null;
      let pair = null;
      try {
        server = await startServer(system.server);
        pair = await system.pair(server.url);
        // Warm-up: JIT, socket buffers and the server's maps, on every path timed below. Round trips
        // take other code paths (echo, one message per turn): warm those long enough for the
        // optimizing compiler too, or the first system measured pays for its JIT.
        await throughput(pair, total / 10, window);
        await roundTrips(pair, Math.max(200, samples / 2));
        live.push({ system, server, pair });
      } catch (err) {
        unavailable[system.name] = err.notAvailable ? `not available: ${err.message.split('\n')[0]}` : `failed: ${err.message}`;
        log(`${system.name}: ${unavailable[system.name]}`);
        if (pair) await pair.close();
        if (server) await server.close();
      }
    }
    // Throughput: whole runs, the order rotated each rep; both processes free to use both cores.
    const results = Object.fromEntries(live.map(({ system }) => [system.name, { throughput: [] }]));
    const rotated = (r) => live.map((_, i) => live[(i + r) % live.length]);
    for (let r = 0; r < reps; r++) {
      for (const { system, pair } of rotated(r)) {
        results[system.name].throughput.push(await throughput(pair, total, window));
        log(`rep ${r + 1} ${system.name}: ${results[system.name].throughput[r].toFixed(0)} msg/s`);
      }
    }
    // Round trips: many short rounds interleaved across the systems and pooled, so every system sees
    // the same background. Measured twice: with this process and the server pinned to one CPU (the
    // software path alone: the target's figure), and free, where each hop may have to wake the other
    // vCPU and the result depends on where the scheduler put the two processes (lib/affinity.js).
    const rttPhase = async (key) => {
      const pooled = Object.fromEntries(live.map(({ system }) => [system.name, []]));
      for (let r = 0; r < rounds; r++) {
        for (const { system, pair } of rotated(r)) pooled[system.name].push(...(await roundTrips(pair, samples / rounds)));
      }
      for (const { system } of live) {
        const sorted = pooled[system.name].sort((x, y) => x - y);
        results[system.name][key] = { p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
        log(`${system.name}: RTT ${key} p50 ${sorted.length ? percentile(sorted, 50).toFixed(3) : '-'} ms, p99 ${sorted.length ? percentile(sorted, 99).toFixed(3) : '-'} ms`);
      }
    };
    const restore = pinTogether([process.pid, ...live.map(({ server }) => server.pid)]);
    try {
      await rttPhase(restore ? 'pinned' : 'free');
    } finally {
      if (restore) restore();
    }
    if (restore) await rttPhase('free');
    const rttKey = restore ? 'pinned' : 'free';

    const pick = (name, metric, key) => {
      if (!results[name]) return null;
      return metric === 'throughput' ? median(results[name].throughput) : results[name][key][metric];
    };
    const vnfValue = (metric, key) =>
      results.WebSocketHub ? pick('WebSocketHub', metric, key) : unavailable.WebSocketHub ? unavailable.WebSocketHub.split(':')[0] : 'failed';
    const base = (name, metric, key) => ({ name, value: pick(name, metric, key) });
    const common = { scenario: 'relay' };
    const where = restore ? ' (1 CPU)' : ' (not pinned: no taskset)';
    const rows = [
      row({ ...common, metric: '100 B throughput', unit: 'msg/s', value: vnfValue('throughput'), baseline: base('raw ws', 'throughput'), target: atLeast(1.0, '≥ 1.0× raw ws') }),
      row({ ...common, metric: '100 B throughput', unit: 'msg/s', value: vnfValue('throughput'), baseline: base('socket.io', 'throughput'), target: atLeast(1.5, '≥ 1.5× socket.io') }),
      row({ ...common, metric: `RTT p50${where}`, unit: 'ms', value: vnfValue('p50', rttKey), baseline: base('raw ws', 'p50', rttKey), target: atMost(1.2, '≤ 1.2× raw ws') }),
      row({ ...common, metric: `RTT p99${where}`, unit: 'ms', value: vnfValue('p99', rttKey), baseline: base('raw ws', 'p99', rttKey) }),
      row({ ...common, metric: `RTT p50${where}`, unit: 'ms', value: vnfValue('p50', rttKey), baseline: base('socket.io', 'p50', rttKey) }),
    ];
    if (restore) {
      rows.push(row({ ...common, metric: 'RTT p50 (2 CPUs, free)', unit: 'ms', value: vnfValue('p50', 'free'), baseline: base('raw ws', 'p50', 'free') }));
    }
    return { rows, details: { total, window, samples, reps, rounds, pinned: Boolean(restore), results, unavailable } };
  } finally {
    for (const { pair, server } of live) {
      await pair.close();
      await server.close();
    }
  }
};
