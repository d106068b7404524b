'use strict';
// Server memory per idle endpoint: each server runs in its own process; this process opens N
// clients (in batches, so the accept queue never overflows) and asks the server for its memory after
// a full GC, before and after. RSS is what the machine pays; heap (V8 heap used + external) shows
// how much of it is JavaScript objects and buffers rather than allocator slack.
const fs = require('fs');
const path = require('path');
const { startServer } = require('../lib/server');
const { systems } = require('../lib/relay-systems');
const { sleep, withTimeout } = require('../lib/measure');
const { row, atMost } = require('../lib/rows');

const BATCH = 250;

/** The soft descriptor limit of this process (run.js raises it to the hard limit). */
function openFileLimit() {
  const line = fs.readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
  return line ? Number(line.split(/\s+/)[3]) : 1024;
}

async function measure(system, count, log) {
  const server = await startServer(system.server);
  const clients = [];
  const hub = system.idleHub ? system.idleHub(server.url) : undefined;
  try {
    const before = await server.stats();
    const snapshots = process.env.BENCH_HEAP_SNAPSHOT; // a directory: write before/after heap snapshots there
    const snapshot = (when) => snapshots && server.heapSnapshot(path.resolve(snapshots, `${system.server}-${when}.heapsnapshot`));
    await snapshot('before');
    const started = Date.now();
    for (let i = 0; i < count; i += BATCH) {
      const batch = [];
      for (let j = i; j < Math.min(count, i + BATCH); j++) batch.push(system.idle(server.url, `idle-${j}`, hub));
      clients.push(...(await withTimeout(Promise.all(batch), 60_000, `${system.name}: opening clients ${i}..${i + BATCH}`)));
    }
    // Let handshakes, timers and lazily allocated buffers settle before measuring.
    await sleep(1000);
    const after = await server.stats();
    await snapshot('after');
    const heap = (m) => m.heapUsed + m.external;
    const result = {
      count,
      openSeconds: (Date.now() - started) / 1000,
      rssPerEndpoint: (after.memory.rss - before.memory.rss) / count,
      heapPerEndpoint: (heap(after.memory) - heap(before.memory)) / count,
      serverInfo: after.info,
      before: before.memory,
      after: after.memory,
    };
    log(`${system.name}: ${count} idle in ${result.openSeconds.toFixed(1)} s; RSS ${(result.rssPerEndpoint / 1024).toFixed(2)} KiB/ep, heap ${(result.heapPerEndpoint / 1024).toFixed(2)} KiB/ep`);
    return result;
  } finally {
    if (hub) await hub.close();
    else for (const c of clients) c.close();
    await server.close();
  }
}

exports.run = async ({ quick, log }) => {
  const limit = openFileLimit();
  // Each side holds one descriptor per client; keep headroom for everything else.
  const wanted = Number(process.env.BENCH_IDLE_COUNT) || (quick ? 500 : 10_000);
  const count = Math.min(wanted, limit - 500);
  if (count < wanted) log(`descriptor limit ${limit}: measuring ${count} endpoints instead of ${wanted}`);
  const results = {};
  const unavailable = {};
  for (const system of systems) {
    try {
      results[system.name] = await measure(system, count, log);
    } catch (err) {
      unavailable[system.name] = err.notAvailable ? 'not available' : `failed: ${err.message}`;
      log(`${system.name}: ${err.message.split('\n')[0]}`);
    }
  }
  const vnf = (field) => (results.WebSocketHub ? results.WebSocketHub[field] : unavailable.WebSocketHub);
  const base = (name, field) => ({ name, value: results[name] ? results[name][field] : null });
  const metric = (what) => `${what} per idle endpoint (${count})`;
  return {
    rows: [
      row({ scenario: 'idle-memory', metric: metric('RSS'), unit: 'B/endpoint', value: vnf('rssPerEndpoint'), baseline: base('raw ws', 'rssPerEndpoint'), target: atMost(10 * 1024, '≤ 10 KiB/ep', 'value') }),
      row({ scenario: 'idle-memory', metric: metric('RSS'), unit: 'B/endpoint', value: vnf('rssPerEndpoint'), baseline: base('socket.io', 'rssPerEndpoint') }),
      row({ scenario: 'idle-memory', metric: metric('heap'), unit: 'B/endpoint', value: vnf('heapPerEndpoint'), baseline: base('raw ws', 'heapPerEndpoint') }),
      row({ scenario: 'idle-memory', metric: metric('heap'), unit: 'B/endpoint', value: vnf('heapPerEndpoint'), baseline: base('socket.io', 'heapPerEndpoint') }),
    ],
    details: { count, fileLimit: limit, results, unavailable },
  };
};
