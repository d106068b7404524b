'use strict';
// Peer services: a caller invokes 'echo' (a small JSON object back) on a provider through a relay server,
// caller, provider and server each in a process of their own (lib/services-host.js, lib/server.js):
//   PeerServices over MultiplexHub(WebSocketHub) through the broker, against socket.io 4 `emitWithAck`
//   relayed by the server with its own `emitWithAck` (servers/socketio-services.js) and raw `ws` JSON
//   request/response batched per tick on every hop (servers/raw-ws-batched.js, the honest limit).
//   throughput: `concurrency` (100) calls always in flight for `durationMs`, reps in rotated order; the
//               median rate, and the CPU per call of each process
//   latency: one call at a time, short rounds interleaved across the systems; the median over the rounds
//            of each round's p50 and p99; once with all processes pinned to one CPU and once free
const { startServer } = require('../lib/server');
const { startClient } = require('../lib/client');
const { systems } = require('../lib/services-systems');
const { median, withTimeout } = require('../lib/measure');
const { row, atLeast } = require('../lib/rows');
const { pinTogether } = require('../lib/affinity');
const path = require('path');

const HOST = path.join(__dirname, '../lib/services-host.js');
const CONCURRENCY = 100;
const range = (values) => [Math.min(...values), Math.max(...values)];

/** Server, provider and caller of one system, each in its own process. */
async function openTrio(system) {
  if (system.load) system.load(); // a package that has not landed: "not available" before any process starts
  const server = await startServer(system.server);
  const provider = await startClient(`${system.server}-provider`, { host: HOST });
  const caller = await startClient(`${system.server}-caller`, { host: HOST });
  const processes = { server, caller, provider };
  const close = () => Promise.all([caller.close(), provider.close(), server.close()]);
  try {
    await withTimeout(provider.request('open', { system: system.name, role: 'provider', url: server.url, eva: 'provider' }), 15_000, `${system.name}: provider`);
    await withTimeout(caller.request('open', { system: system.name, role: 'caller', url: server.url, eva: 'caller', peer: 'provider' }), 15_000, `${system.name}: caller`);
  } catch (err) {
    await close();
    throw err;
  }
  return {
    system,
    pids: [server.pid, caller.pid, provider.pid],
    async throughput(durationMs) {
      const all = Object.entries(processes);
      const before = await Promise.all(all.map(([, p]) => p.cpu()));
      const r = await withTimeout(caller.request('throughput', { concurrency: CONCURRENCY, durationMs }), durationMs + 60_000, `${system.name}: calls for ${durationMs} ms`);
      const after = await Promise.all(all.map(([, p]) => p.cpu()));
      if (r.failed) throw new Error(`${system.name}: ${r.failed} of ${r.calls + r.failed} calls failed, first: ${r.firstError}`);
      const cpuUs = {};
      all.forEach(([name], i) => (cpuUs[name] = (after[i].user + after[i].system - before[i].user - before[i].system) / r.calls));
      return { rate: r.calls / (r.ms / 1000), calls: r.calls, ms: r.ms, cpuUs };
    },
    async latency(count) {
      const r = await withTimeout(caller.request('latency', { count }), 60_000, `${system.name}: ${count} calls one at a time`);
      if (r.failed) throw new Error(`${system.name}: ${r.failed} wrong answers`);
      return r;
    },
    close,
  };
}

exports.run = async ({ quick, log }) => {
  const durationMs = quick ? 300 : 2_000;
  const reps = quick ? 1 : 5;
  const rounds = quick ? 1 : 10;
  const perRound = quick ? 200 : 500;
  const trios = [];
  const unavailable = {};
  try {
    for (const system of systems) {
      try {
        const trio = await openTrio(system);
        trios.push(trio);
        // Warm-up: the optimizing compiler on both paths of every process, before anything is timed.
        await trio.throughput(quick ? 200 : 1_500);
        await trio.latency(quick ? 200 : 2_000);
      } catch (err) {
        unavailable[system.name] = err.notAvailable ? `not available: ${err.message.split('\n')[0]}` : `failed: ${err.message.split('\n')[0]}`;
        log(`${system.name}: ${unavailable[system.name]}`);
        const opened = trios.findIndex((t) => t.system === system);
        if (opened >= 0) await trios.splice(opened, 1)[0].close();
      }
    }
    const rotated = (r) => trios.map((_, i) => trios[(i + r) % trios.length]);

    /** A system that fails mid-run leaves the run (its rows say why); the others go on. */
    const drop = async (trio, err) => {
      unavailable[trio.system.name] = `failed: ${err.message.split('\n')[0]}`;
      log(`${trio.system.name}: ${unavailable[trio.system.name]}`);
      trios.splice(trios.indexOf(trio), 1);
      await trio.close();
    };
    const runs = Object.fromEntries(trios.map((t) => [t.system.name, []]));
    for (let r = 0; r < reps; r++) {
      for (const trio of rotated(r)) {
        let result;
        try {
          result = await trio.throughput(durationMs);
        } catch (err) {
          await drop(trio, err);
          delete runs[trio.system.name];
          continue;
        }
        runs[trio.system.name].push(result);
        log(`rep ${r + 1} ${trio.system.name}: ${result.rate.toFixed(0)} calls/s at concurrency ${CONCURRENCY}, CPU µs/call ${Object.entries(result.cpuUs).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')}`);
      }
    }
    const throughput = {};
    for (const [name, list] of Object.entries(runs)) {
      const rates = list.map((x) => x.rate);
      const cpuUs = Object.fromEntries(Object.keys(list[0].cpuUs).map((k) => [k, median(list.map((x) => x.cpuUs[k]))]));
      throughput[name] = { rate: median(rates), range: range(rates), cpuUs, cpuTotalUs: Object.values(cpuUs).reduce((a, b) => a + b, 0), reps: rates };
    }

    // Latency at concurrency 1: rounds interleaved across the systems; each round's p50 and p99, the median
    // over the rounds. Pinned (all processes of all systems on one CPU: the software path alone) and free.
    const latency = Object.fromEntries(trios.map((t) => [t.system.name, {}]));
    const latencyPhase = async (key) => {
      const seen = Object.fromEntries(trios.map((t) => [t.system.name, { p50: [], p99: [] }]));
      for (let r = 0; r < rounds; r++) {
        for (const trio of rotated(r)) {
          try {
            const { p50, p99 } = await trio.latency(perRound);
            seen[trio.system.name].p50.push(p50);
            seen[trio.system.name].p99.push(p99);
          } catch (err) {
            await drop(trio, err);
            delete seen[trio.system.name];
          }
        }
      }
      for (const [name, { p50, p99 }] of Object.entries(seen)) {
        latency[name][key] = { p50: median(p50), p99: median(p99), p50Range: range(p50), p99Range: range(p99), rounds };
        log(`${name}: latency ${key} p50 ${median(p50).toFixed(3)} ms (rounds ${range(p50).map((x) => x.toFixed(3)).join('–')}), p99 ${median(p99).toFixed(3)} ms`);
      }
    };
    const restore = pinTogether(trios.flatMap((t) => t.pids));
    try {
      await latencyPhase(restore ? 'pinned' : 'free');
    } finally {
      if (restore) restore();
    }
    if (restore) await latencyPhase('free');

    const common = { scenario: 'services' };
    const vnf = 'PeerServices';
    const missing = unavailable[vnf] ? unavailable[vnf].split(':')[0] : 'failed';
    const tp = (name, field) => (throughput[name] ? throughput[name][field] : null);
    const metric = `call round trips, concurrency ${CONCURRENCY}`;
    const note = (name) => (throughput[name] ? `${name} reps ${throughput[name].range.map((x) => x.toFixed(0)).join('–')}` : unavailable[name]);
    const rows = [
      row({ ...common, metric, unit: 'calls/s', value: tp(vnf, 'rate') ?? missing, baseline: { name: 'raw ws batched', value: tp('raw ws batched', 'rate') }, target: atLeast(0.7, '≥ 0.7× raw ws batched'), note: note(vnf) }),
      row({ ...common, metric, unit: 'calls/s', value: tp(vnf, 'rate') ?? missing, baseline: { name: 'socket.io', value: tp('socket.io', 'rate') }, target: atLeast(4, '≥ 4× socket.io'), note: note('socket.io') }),
    ];
    for (const part of ['server', 'caller', 'provider']) {
      const cpu = (name) => (throughput[name] ? throughput[name].cpuUs[part] : null);
      rows.push(row({ ...common, metric: `CPU per call, ${part === 'server' ? 'server (broker)' : part}`, unit: 'µs', value: cpu(vnf) ?? missing, baseline: { name: 'raw ws batched', value: cpu('raw ws batched') } }));
    }
    const lat = (name, key, field) => (latency[name] && latency[name][key] ? latency[name][key][field] : null);
    const phases = restore ? [['pinned', ' (1 CPU)'], ['free', ' (2 CPUs, free)']] : [['free', ' (not pinned: no taskset)']];
    for (const [key, where] of phases) {
      for (const field of ['p50', 'p99']) {
        for (const base of ['raw ws batched', 'socket.io']) {
          rows.push(row({ ...common, metric: `call latency ${field}, concurrency 1${where}`, unit: 'ms', value: lat(vnf, key, field) ?? missing, baseline: { name: base, value: lat(base, key, field) } }));
        }
      }
    }
    return { rows, details: { concurrency: CONCURRENCY, durationMs, reps, rounds, perRound, pinned: Boolean(restore), throughput, latency, unavailable } };
  } finally {
    for (const trio of trios) await trio.close();
  }
};
