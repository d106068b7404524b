'use strict';
// Relay throughput and round-trip time through a server in its own process: WebSocketHub through
// the broker, against raw `ws` relays (servers/raw-ws.js: one frame a message; servers/raw-ws-batched.js:
// batched per tick, the honest limit) and a socket.io 4 relay (servers/socketio.js); 100 B strings.
//   throughput: sender, receiver and server each in a process of its own (lib/client.js); `total`
//               messages a → b, at most `window` unacknowledged, the receiver acknowledging every
//               window/10 through the relay; reps in rotated order, the median and range reported;
//               CPU per relayed message of each process, and (in one extra rep with V8's sampling heap
//               profiler on) the bytes each process allocates per relayed message
//   RTT: a sends, b echoes, a sends the next on arrival; one message in flight; 20 short rounds
//        per system interleaved, percentiles over all round trips; once with both processes pinned
//        to one CPU (the figure the target is judged on) and once free
const { startServer } = require('../lib/server');
const { startClient } = require('../lib/client');
const { systems, rawWsBatched } = require('../lib/relay-systems');
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

/** Server, receiver and sender of one system, each in its own process. */
async function openTrio(system) {
  const server = await startServer(system.server);
  const receiver = await startClient('b');
  const sender = await startClient('a');
  try {
    await receiver.request('open', { system: system.name, url: server.url, eva: 'b', peer: 'a' });
    await sender.request('open', { system: system.name, url: server.url, eva: 'a', peer: 'b', initiator: true });
    await withTimeout(receiver.request('connected'), 10_000, `${system.name}: receiver learning of the connection`);
  } catch (err) {
    await Promise.all([sender.close(), receiver.close(), server.close()]);
    throw err;
  }
  const processes = { server, sender, receiver };
  return {
    system,
    processes,
    async run(count, window, { sample = false } = {}) {
      const ackEvery = Math.max(1, window / 10);
      const total = Math.ceil(count / ackEvery) * ackEvery; // the receiver acknowledges whole groups
      await receiver.request('receive', { ackEvery });
      const all = Object.entries(processes);
      if (sample) await Promise.all(all.map(([, p]) => (p.sampleStart ? p.sampleStart() : p.request('sampleStart'))));
      const before = await Promise.all(all.map(([, p]) => p.cpu()));
      const { ms } = await withTimeout(sender.request('send', { total, window, ackEvery, size: 100 }), 90_000, `${system.name}: ${total} messages`);
      const after = await Promise.all(all.map(([, p]) => p.cpu()));
      const cpuUs = {};
      all.forEach(([name], i) => (cpuUs[name] = (after[i].user + after[i].system - before[i].user - before[i].system) / total));
      const bytes = {};
      if (sample) {
        const sampled = await Promise.all(all.map(([, p]) => (p.sampleStop ? p.sampleStop() : p.request('sampleStop').then((r) => r.bytes))));
        all.forEach(([name], i) => (bytes[name] = sampled[i] / total));
      }
      return { rate: total / (ms / 1000), cpuUs, bytes };
    },
    close: () => Promise.all([sender.close(), receiver.close(), server.close()]),
  };
}

const range = (values) => [Math.min(...values), Math.max(...values)];

/** Cross-process throughput of every system at each window, reps interleaved; then one sampled rep each. */
async function crossProcess({ quick, log }) {
  const total = quick ? 5_000 : 200_000;
  const windows = quick ? [1_000] : [1_000, 10_000];
  const reps = quick ? 1 : 5;
  const names = ['WebSocketHub', 'raw ws batched', 'raw ws', 'socket.io'];
  const wanted = [...systems, rawWsBatched].sort((x, y) => names.indexOf(x.name) - names.indexOf(y.name));
  const trios = [];
  const unavailable = {};
  try {
    for (const system of wanted) {
      try {
        const trio = await openTrio(system);
        // Warm-up of a full run: JIT and buffers on every process (a tenth of it left the first rep slower).
        await trio.run(total / (system.name === 'raw ws' || system.name === 'socket.io' ? 4 : 1), 1_000);
        trios.push(trio);
      } catch (err) {
        unavailable[system.name] = err.notAvailable ? 'not available' : `failed: ${err.message.split('\n')[0]}`;
        log(`${system.name} (cross-process): ${unavailable[system.name]}`);
      }
    }
    const results = {};
    for (const window of windows) {
      for (let r = 0; r < reps; r++) {
        for (let i = 0; i < trios.length; i++) {
          const trio = trios[(i + r) % trios.length];
          const key = `${trio.system.name}@${window}`;
          // The slowest system (one frame a message) runs a quarter of the count, so the scenario stays short.
          const n = trio.system.name === 'raw ws' || trio.system.name === 'socket.io' ? total / 4 : total;
          const result = await trio.run(n, window);
          (results[key] = results[key] || []).push(result);
          log(`window ${window} rep ${r + 1} ${trio.system.name}: ${result.rate.toFixed(0)} msg/s, CPU µs/msg ${Object.entries(result.cpuUs).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')}`);
        }
      }
    }
    const allocated = {};
    for (const trio of trios) {
      const result = await trio.run(quick ? total : total / 4, 1_000, { sample: true });
      allocated[trio.system.name] = result.bytes;
      log(`${trio.system.name}: bytes allocated per relayed message ${Object.entries(result.bytes).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')}`);
    }
    const summary = {};
    for (const [key, list] of Object.entries(results)) {
      const rates = list.map((x) => x.rate);
      const cpu = Object.fromEntries(Object.keys(list[0].cpuUs).map((k) => [k, median(list.map((x) => x.cpuUs[k]))]));
      summary[key] = { rate: median(rates), range: range(rates), cpuUs: cpu, cpuTotalUs: Object.values(cpu).reduce((a, b) => a + b, 0) };
    }
    return { summary, allocated, unavailable, total, windows, reps };
  } finally {
    for (const trio of trios) await trio.close();
  }
}

exports.run = async ({ quick, log }) => {
  const cross = await crossProcess({ quick, log });
  const samples = quick ? 200 : 10_000;
  const rounds = quick ? 1 : 20;
  const live = [];
  const unavailable = { ...cross.unavailable };
  try {
    for (const system of systems) {
      let server = null;
      let pair = null;
      try {
        server = await startServer(system.server);
        pair = await system.pair(server.url);
        // Warm-up of the round-trip path (echo, one message per turn), long enough for the optimizing
        // compiler, or the first system measured pays for its JIT.
        await throughput(pair, quick ? 1_000 : 20_000, 1_000);
        await roundTrips(pair, Math.max(200, samples / 2));
        live.push({ system, server, pair });
      } catch (err) {
        unavailable[system.name] = err.notAvailable ? `not available: ${err.message.split('\n')[0]}` : `failed: ${err.message}`;
        log(`${system.name}: ${unavailable[system.name]}`);
        if (pair) await pair.close();
        if (server) await server.close();
      }
    }
    // Round trips: many short rounds interleaved across the systems; the figure is the median over the
    // rounds of each round's percentile, with the range over the rounds. Measured twice: with this
    // process and the server pinned to one CPU (the software path alone), and free, where each hop may
    // have to wake the other vCPU and the result depends on where the scheduler put the two processes.
    const results = Object.fromEntries(live.map(({ system }) => [system.name, {}]));
    const rotated = (r) => live.map((_, i) => live[(i + r) % live.length]);
    const rttPhase = async (key) => {
      const perRound = Object.fromEntries(live.map(({ system }) => [system.name, { p50: [], p99: [] }]));
      for (let r = 0; r < rounds; r++) {
        for (const { system, pair } of rotated(r)) {
          const sorted = (await roundTrips(pair, samples / rounds)).sort((x, y) => x - y);
          perRound[system.name].p50.push(percentile(sorted, 50));
          perRound[system.name].p99.push(percentile(sorted, 99));
        }
      }
      for (const { system } of live) {
        const { p50, p99 } = perRound[system.name];
        results[system.name][key] = { p50: median(p50), p99: median(p99), p50Range: range(p50), rounds: p50.length };
        log(`${system.name}: RTT ${key} p50 ${median(p50).toFixed(3)} ms (rounds ${range(p50).map((x) => x.toFixed(3)).join('–')}), p99 ${median(p99).toFixed(3)} ms`);
      }
    };
    const restore = pinTogether([process.pid, ...live.map(({ server }) => server.pid)]);
    try {
      await rttPhase(restore ? 'pinned' : 'free');
    } finally {
      if (restore) restore();
    }
    if (restore) await rttPhase('free');

    const common = { scenario: 'relay' };
    const rows = [];
    const summary = cross.summary;
    const vnfOr = (key, field) => (summary[key] ? summary[key][field] : unavailable.WebSocketHub ? unavailable.WebSocketHub.split(':')[0] : 'failed');
    const base = (name, key, field) => ({ name, value: summary[key] ? summary[key][field] : null });
    for (const window of cross.windows) {
      const at = (name) => `${name}@${window}`;
      const metric = `100 B throughput, window ${window.toLocaleString('en')}`;
      rows.push(row({ ...common, metric, unit: 'msg/s', value: vnfOr(at('WebSocketHub'), 'rate'), baseline: base('raw ws batched', at('raw ws batched'), 'rate'), target: window === 1_000 ? atLeast(0.9, '≥ 0.9× raw ws batched') : undefined }));
      rows.push(row({ ...common, metric, unit: 'msg/s', value: vnfOr(at('WebSocketHub'), 'rate'), baseline: base('raw ws', at('raw ws'), 'rate') }));
      rows.push(row({ ...common, metric, unit: 'msg/s', value: vnfOr(at('WebSocketHub'), 'rate'), baseline: base('socket.io', at('socket.io'), 'rate'), target: window === 1_000 ? atLeast(1.5, '≥ 1.5× socket.io') : undefined }));
    }
    const w = `@${cross.windows[0]}`;
    for (const part of ['server', 'sender', 'receiver']) {
      const value = summary[`WebSocketHub${w}`] ? summary[`WebSocketHub${w}`].cpuUs[part] : 'failed';
      const baseline = { name: 'raw ws batched', value: summary[`raw ws batched${w}`] ? summary[`raw ws batched${w}`].cpuUs[part] : null };
      rows.push(row({ ...common, metric: `CPU per relayed message, ${part === 'server' ? 'server (broker)' : part}`, unit: 'µs', value, baseline }));
    }
    for (const part of ['server', 'sender', 'receiver']) {
      const value = cross.allocated.WebSocketHub ? cross.allocated.WebSocketHub[part] : 'failed';
      const baseline = { name: 'raw ws batched', value: cross.allocated['raw ws batched'] ? cross.allocated['raw ws batched'][part] : null };
      rows.push(row({ ...common, metric: `bytes allocated per relayed message, ${part === 'server' ? 'server (broker)' : part}`, unit: 'B', value, baseline }));
    }
    const rtt = (name, key, field) => (results[name] && results[name][key] ? results[name][key][field] : null);
    const vnfRtt = (key, field) => rtt('WebSocketHub', key, field) ?? (unavailable.WebSocketHub ? unavailable.WebSocketHub.split(':')[0] : 'failed');
    const phases = restore ? [['pinned', ' (1 CPU)'], ['free', ' (2 CPUs, free)']] : [['free', ' (not pinned: no taskset)']];
    for (const [key, where] of phases) {
      rows.push(row({ ...common, metric: `RTT p50${where}`, unit: 'ms', value: vnfRtt(key, 'p50'), baseline: { name: 'raw ws', value: rtt('raw ws', key, 'p50') }, target: atMost(1.2, '≤ 1.2× raw ws') }));
      rows.push(row({ ...common, metric: `RTT p99${where}`, unit: 'ms', value: vnfRtt(key, 'p99'), baseline: { name: 'raw ws', value: rtt('raw ws', key, 'p99') } }));
      rows.push(row({ ...common, metric: `RTT p50${where}`, unit: 'ms', value: vnfRtt(key, 'p50'), baseline: { name: 'socket.io', value: rtt('socket.io', key, 'p50') } }));
    }
    return { rows, details: { crossProcess: cross, samples, rounds, pinned: Boolean(restore), rtt: results, unavailable } };
  } finally {
    for (const { pair, server } of live) {
      await pair.close();
      await server.close();
    }
  }
};
