'use strict';
// What idle endpoints cost the server's CPU: heartbeats and timers, nothing else. The server runs in its
// own process; N idle clients are spread over two client processes (a process may hold 20 000 file
// descriptors here, so 19 000 sockets cannot share one), opened in batches, then the server's CPU time
// is read over a window long enough for every heartbeat to fire at least twice on every socket (the
// broker's WebSocket ping every 30 s, the VNF client's ping after 15 s without a frame; socket.io pings
// every 25 s). Reported as % of one core, with RSS per endpoint after the window. Compared with raw
// `ws` (no heartbeat: the floor) and socket.io (its default heartbeat).
const { startServer } = require('../lib/server');
const { startClient } = require('../lib/client');
const { systems } = require('../lib/relay-systems');
const { sleep, withTimeout } = require('../lib/measure');
const { row, atMost } = require('../lib/rows');

async function measure(system, count, windowMs, log) {
  const server = await startServer(system.server);
  const hosts = [await startClient('idle-1'), await startClient('idle-2')];
  try {
    const before = await server.stats();
    const half = Math.ceil(count / 2);
    const started = Date.now();
    await withTimeout(
      Promise.all(hosts.map((h, i) => h.request('idle', { system: system.name, url: server.url, from: i * half, count: Math.min(half, count - i * half) }))),
      300_000,
      `${system.name}: opening ${count} idle clients`,
    );
    const openSeconds = (Date.now() - started) / 1000;
    await sleep(2000); // the last handshakes and their lazily allocated buffers settle
    const cpu0 = await server.cpu();
    const t0 = Date.now();
    await sleep(windowMs);
    const cpu1 = await server.cpu();
    const elapsedMs = Date.now() - t0;
    const after = await server.stats();
    const cpuPercent = ((cpu1.user + cpu1.system - cpu0.user - cpu0.system) / 1000 / elapsedMs) * 100;
    const rssPerEndpoint = (after.memory.rss - before.memory.rss) / count;
    log(`${system.name}: ${count} idle (opened in ${openSeconds.toFixed(1)} s): ${cpuPercent.toFixed(2)} % of a core over ${(elapsedMs / 1000).toFixed(0)} s, RSS ${(rssPerEndpoint / 1024).toFixed(2)} KiB/ep`);
    return { count, openSeconds, cpuPercent, rssPerEndpoint, elapsedMs, serverInfo: after.info };
  } finally {
    await Promise.all(hosts.map((h) => h.close()));
    await server.close();
  }
}

exports.run = async ({ quick, log }) => {
  const count = Number(process.env.BENCH_IDLE_CPU_COUNT) || (quick ? 1_000 : 19_000);
  const windowMs = Number(process.env.BENCH_IDLE_CPU_WINDOW_MS) || (quick ? 3_000 : 65_000);
  const results = {};
  const unavailable = {};
  for (const system of systems) {
    try {
      results[system.name] = await measure(system, count, windowMs, log);
    } catch (err) {
      unavailable[system.name] = err.notAvailable ? 'not available' : `failed: ${err.message.split('\n')[0]}`;
      log(`${system.name}: ${unavailable[system.name]}`);
    }
  }
  const vnf = (field) => (results.WebSocketHub ? results.WebSocketHub[field] : unavailable.WebSocketHub || 'failed');
  const base = (name, field) => ({ name, value: results[name] ? results[name][field] : null });
  const metric = (what) => `${what}, ${count.toLocaleString('en')} idle endpoints`;
  return {
    rows: [
      row({ scenario: 'idle-cpu', metric: metric('server CPU'), unit: '%', value: vnf('cpuPercent'), baseline: base('raw ws', 'cpuPercent'), target: atMost(3, '≤ 3 % of a core', 'value') }),
      row({ scenario: 'idle-cpu', metric: metric('server CPU'), unit: '%', value: vnf('cpuPercent'), baseline: base('socket.io', 'cpuPercent') }),
      row({ scenario: 'idle-cpu', metric: metric('RSS per endpoint'), unit: 'B/endpoint', value: vnf('rssPerEndpoint'), baseline: base('raw ws', 'rssPerEndpoint'), target: atMost(8 * 1024, '≤ 8 KiB/ep', 'value') }),
    ],
    details: { count, windowMs, results, unavailable },
  };
};
