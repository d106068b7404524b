'use strict';
// One 100 MiB binary message through MarshallerHub, over RtcHub and over WebSocketHub (broker in
// its own process), against the raw way to move it: raw simple-peer in 16 KiB chunks paced on the
// channel's bufferedAmount, and raw ws in 64 KiB chunks through servers/raw-ws.js (at most 1 MiB in
// flight). Both raw receivers copy into a preallocated buffer: the least memory a receiver can use.
//
// Memory: each variant runs in a fresh process (this file forks itself), so the kernel's peak RSS
// belongs to that transfer alone. The baseline is taken after connecting and allocating the source
// message, so the floor is 1× (the receiver's copy, sender and receiver share this process); the
// target ≤ 1.3× leaves room for a third of a copy in flight. Run inside the loopback-only namespace.
//
// JSON: a 10 MB object (68 000 records of a user list) sent a → b and back b → a through the broker,
// against what a user of raw ws does: JSON.stringify, one frame through servers/raw-ws.js, JSON.parse,
// and the same back. Both sides in one process; 2 processes per variant, interleaved, 5 timed round
// trips each after a warm-up; the median reported.
const path = require('path');
const { fork } = require('child_process');
const { loadVnf } = require('../lib/vnf');
const { startServer } = require('../lib/server');
const { simplePeerPair, belowBuffered } = require('../lib/simple-peer-pair');
const { now, median, settle, sampleMemory, createPump, withTimeout } = require('../lib/measure');
const { row, atLeast, atMost } = require('../lib/rows');

const MiB = 1024 * 1024;
const VARIANTS = ['MarshallerHub/RtcHub', 'simple-peer', 'MarshallerHub/WebSocketHub', 'raw ws'];

// ---- one variant (child process) ----------------------------------------------------------------

async function marshallerTransfer(size, inner, cleanup) {
  const { MarshallerHub } = loadVnf('marshaller-hub', ['MarshallerHub']);
  const hub = new MarshallerHub(inner, { maxMessageSize: size + MiB });
  try {
    const a = hub.openEndpoint('a');
    const b = hub.openEndpoint('b');
    const event = await a.openConnection('b');
    if (event.status !== 'CONNECTED') throw new Error(`openConnection: ${event.status} ${event.reason || ''}`);
    return await measured(size, (message) =>
      new Promise((resolve, reject) => {
        b.onMessage = (e) => resolve(e.message.byteLength);
        b.on('error', reject);
        a.on('error', reject);
        a.send('b', message);
      }),
    );
  } finally {
    await hub.close();
    if (cleanup) await cleanup();
  }
}

async function rawRtcTransfer(size) {
  const { p1, p2, close } = await simplePeerPair();
  const CHUNK = 16 * 1024;
  try {
    return await measured(size, async (message) => {
      const received = new Uint8Array(size);
      let offset = 0;
      const done = new Promise((resolve) =>
        p2.on('data', (data) => {
          received.set(data, offset);
          offset += data.length;
          if (offset === size) resolve(offset);
        }),
      );
      for (let at = 0; at < size; at += CHUNK) {
        await belowBuffered(p1, MiB);
        p1.send(message.subarray(at, at + CHUNK));
      }
      return done;
    });
  } finally {
    close();
  }
}

async function rawWsTransfer(size) {
  const server = await startServer('raw-ws');
  const WebSocket = require('ws');
  const open = (q) => new Promise((resolve, reject) => {
    const ws = new WebSocket(`${server.url}/?${q}`);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
  const [wa, wb] = await Promise.all([open('id=a&peer=b'), open('id=b&peer=a')]);
  const CHUNK = 64 * 1024;
  try {
    return await measured(size, (message) => {
      const received = new Uint8Array(size);
      let offset = 0;
      const chunks = Math.ceil(size / CHUNK);
      const pump = createPump({ total: chunks, window: MiB / CHUNK, send: (i) => wa.send(message.subarray(i * CHUNK, (i + 1) * CHUNK)) });
      wb.on('message', (data) => {
        received.set(data, offset);
        offset += data.length;
        pump.ack();
      });
      return pump.start().then(() => offset);
    });
  } finally {
    wa.terminate();
    wb.terminate();
    await server.close();
  }
}

/** Allocates the message, takes the memory baseline, runs `transfer(message)` and samples memory meanwhile. */
async function measured(size, transfer) {
  const message = new Uint8Array(size);
  for (let i = 0; i < size; i += 4096) message[i] = i & 255; // touch every page: it must count in the baseline
  await settle();
  const before = process.memoryUsage();
  const sampler = sampleMemory(10);
  const started = now();
  const cpuBefore = process.cpuUsage();
  const receivedBytes = await withTimeout(Promise.resolve(transfer(message)), 180_000, 'the 100 MiB transfer');
  const ms = now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const peak = sampler.stop();
  if (receivedBytes !== size) throw new Error(`received ${receivedBytes} of ${size} bytes`);
  return {
    mbPerSecond: size / 1e6 / (ms / 1000),
    seconds: ms / 1000,
    // This process's CPU (sender and receiver; the relay runs in its own process): less at the mercy of a busy machine than the rate.
    cpuMs: (cpu.user + cpu.system) / 1000,
    peakRssOverBaseline: Math.max(peak.rss, peak.maxRss) - before.rss,
    peakArrayBuffersOverBaseline: peak.arrayBuffers - before.arrayBuffers,
    baseline: before,
  };
}

/** The JSON object of the round trip: about 10 MB as JSON. */
function bigObject() {
  return {
    users: Array.from({ length: 68_000 }, (_, i) => ({
      id: i,
      name: `user ${i}`,
      email: `user${i}@example.com`,
      score: i * 1.5,
      tags: ['a', 'b', 'c'],
      active: i % 2 === 0,
      nested: { x: i, y: `v${i}` },
    })),
  };
}

const JSON_ROUNDS = 5;

/** Round trips of `bigObject()`: `roundTrip(obj)` resolves when the object came back; the median ms of JSON_ROUNDS. */
async function timedRoundTrips(roundTrip) {
  const obj = bigObject();
  await roundTrip(obj); // warm-up
  const times = [];
  const cpuTimes = [];
  for (let i = 0; i < JSON_ROUNDS; i++) {
    await settle();
    const started = now();
    const cpuBefore = process.cpuUsage();
    await withTimeout(roundTrip(obj), 60_000, 'a JSON round trip');
    times.push(now() - started);
    const cpu = process.cpuUsage(cpuBefore);
    cpuTimes.push((cpu.user + cpu.system) / 1000);
  }
  return { ms: median(times), times, cpuMs: median(cpuTimes), jsonBytes: Buffer.byteLength(JSON.stringify(obj)) };
}

async function marshallerJson() {
  const { WebSocketHub, WebSocketFactory } = loadVnf('websocket-hub', ['WebSocketHub', 'WebSocketFactory']);
  const { MarshallerHub } = loadVnf('marshaller-hub', ['MarshallerHub']);
  const server = await startServer('broker');
  const hub = new MarshallerHub(new WebSocketHub(new WebSocketFactory(server.url)), { maxMessageSize: 64 * MiB });
  try {
    const a = hub.openEndpoint('a');
    const b = hub.openEndpoint('b');
    const event = await a.openConnection('b');
    if (event.status !== 'CONNECTED') throw new Error(`openConnection: ${event.status} ${event.reason || ''}`);
    if (!b.isConnected('a')) await new Promise((resolve) => b.once('connection', resolve));
    b.onMessage = (e) => b.send('a', e.message);
    return await timedRoundTrips(
      (obj) =>
        new Promise((resolve) => {
          a.onMessage = (e) => resolve(e.message);
          a.send('b', obj);
        }),
    );
  } finally {
    await hub.close();
    await server.close();
  }
}

async function rawWsJson() {
  const server = await startServer('raw-ws');
  const WebSocket = require('ws');
  const open = (q) => new Promise((resolve, reject) => {
    const ws = new WebSocket(`${server.url}/?${q}`);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
  const [wa, wb] = await Promise.all([open('id=a&peer=b'), open('id=b&peer=a')]);
  try {
    wb.on('message', (data) => wb.send(JSON.stringify(JSON.parse(data.toString()))));
    return await timedRoundTrips(
      (obj) =>
        new Promise((resolve) => {
          wa.once('message', (data) => resolve(JSON.parse(data.toString())));
          wa.send(JSON.stringify(obj));
        }),
    );
  } finally {
    wa.terminate();
    wb.terminate();
    await server.close();
  }
}

async function runVariant(variant, size) {
  if (variant === 'json MarshallerHub/WebSocketHub') return marshallerJson();
  if (variant === 'json raw ws') return rawWsJson();
  if (variant === 'simple-peer') return rawRtcTransfer(size);
  if (variant === 'raw ws') return rawWsTransfer(size);
  if (variant === 'MarshallerHub/RtcHub') {
    const { RtcHub } = loadVnf('rtc-hub', ['RtcHub']);
    const { InBrowserHub } = loadVnf('in-browser-hub', ['InBrowserHub']);
    return marshallerTransfer(size, new RtcHub(new InBrowserHub()));
  }
  const { WebSocketHub, WebSocketFactory } = loadVnf('websocket-hub', ['WebSocketHub', 'WebSocketFactory']);
  const server = await startServer('broker');
  await server.resetPeak();
  const result = await marshallerTransfer(size, new WebSocketHub(new WebSocketFactory(server.url)));
  result.brokerPeakRss = (await server.stats()).peakRss;
  await server.close();
  return result;
}

if (process.argv[2] === '--variant') {
  const [variant, size] = [process.argv[3], Number(process.argv[4])];
  // Run by hand (no IPC channel), a variant prints its result.
  const reply = process.send ? (msg) => process.send(msg) : (msg) => console.log(JSON.stringify(msg));
  runVariant(variant, size).then(
    (result) => (reply({ result }), process.exit(0)),
    (err) => (reply({ error: String(err.stack || err), notAvailable: Boolean(err.notAvailable) }), process.exit(0)),
  );
}

// ---- the scenario ---------------------------------------------------------------------------------

function inChild(variant, size) {
  return new Promise((resolve) => {
    const child = fork(__filename, ['--variant', variant, String(size)], {
      execArgv: [
        '--expose-gc',
        '-r',
        path.join(__dirname, '../lib/register.js'),
        ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(process.env.BENCH_CPU_PROF)}`] : []),
      ],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let answer = { error: 'exited without a result' };
    child.on('message', (msg) => (answer = msg));
    child.on('exit', () => resolve(answer));
  });
}

exports.run = async ({ quick, log }) => {
  const size = (Number(process.env.BENCH_MARSHALLER_MIB) || (quick ? 4 : 100)) * MiB;
  // Three fresh processes per variant, variants interleaved: one transfer is at the mercy of whatever
  // else the machine does. Rate: the median; memory: the worst of the three.
  const reps = quick ? 1 : 3;
  const runs = Object.fromEntries(VARIANTS.map((v) => [v, []]));
  const failures = {};
  for (let r = 0; r < reps; r++) {
    for (const variant of VARIANTS) {
      if (failures[variant]) continue;
      const answer = await inChild(variant, size);
      if (!answer.result) {
        failures[variant] = answer.notAvailable ? 'not available' : `failed: ${answer.error}`;
        log(`${variant}: ${answer.error.split('\n')[0]}`);
        continue;
      }
      const m = answer.result;
      runs[variant].push(m);
      log(`rep ${r + 1} ${variant}: ${m.mbPerSecond.toFixed(1)} MB/s, CPU ${m.cpuMs.toFixed(0)} ms, peak RSS +${(m.peakRssOverBaseline / MiB).toFixed(0)} MiB, arrayBuffers +${(m.peakArrayBuffersOverBaseline / MiB).toFixed(0)} MiB`);
    }
  }
  const summary = (variant) => {
    const list = runs[variant];
    if (failures[variant] || list.length === 0) return null;
    return {
      mbPerSecond: median(list.map((m) => m.mbPerSecond)),
      peakRssOverBaseline: Math.max(...list.map((m) => m.peakRssOverBaseline)),
      peakArrayBuffersOverBaseline: Math.max(...list.map((m) => m.peakArrayBuffersOverBaseline)),
    };
  };
  const results = Object.fromEntries(VARIANTS.map((v) => [v, summary(v)]));
  // JSON round trips: two processes per variant, interleaved.
  const jsonRuns = { 'json MarshallerHub/WebSocketHub': [], 'json raw ws': [] };
  for (let r = 0; r < (quick ? 1 : 2); r++) {
    for (const variant of Object.keys(jsonRuns)) {
      if (failures[variant]) continue;
      const answer = await inChild(variant, 0);
      if (!answer.result) {
        failures[variant] = answer.notAvailable ? 'not available' : `failed: ${answer.error}`;
        log(`${variant}: ${answer.error.split('\n')[0]}`);
        continue;
      }
      jsonRuns[variant].push(...answer.result.times);
      log(`${variant}: round trips of ${(answer.result.jsonBytes / 1e6).toFixed(1)} MB of JSON, ${answer.result.times.map((t) => t.toFixed(0)).join(', ')} ms (median CPU ${answer.result.cpuMs.toFixed(0)} ms)`);
    }
  }
  for (const [variant, times] of Object.entries(jsonRuns)) results[variant] = times.length ? { ms: median(times), range: [Math.min(...times), Math.max(...times)] } : null;
  const label = `${size / MiB} MiB`;
  const value = (variant, field) => (results[variant] ? results[variant][field] : (failures[variant] || 'failed').split(':')[0]);
  const base = (variant, field) => ({ name: variant, value: results[variant] ? results[variant][field] : null });
  const rows = [];
  for (const [vnf, raw, over] of [
    ['MarshallerHub/RtcHub', 'simple-peer', 'RtcHub'],
    ['MarshallerHub/WebSocketHub', 'raw ws', 'WebSocketHub'],
  ]) {
    rows.push(row({ scenario: 'marshaller', metric: `${label} over ${over}`, unit: 'MB/s', value: value(vnf, 'mbPerSecond'), baseline: base(raw, 'mbPerSecond'), target: atLeast(0.95, `≥ 0.95× ${raw}`) }));
    rows.push(row({ scenario: 'marshaller', metric: `peak RSS over ${over}`, unit: 'B', value: value(vnf, 'peakRssOverBaseline'), baseline: base(raw, 'peakRssOverBaseline'), target: atMost(1.3 * size, '≤ 1.3× message', 'value') }));
    rows.push(row({ scenario: 'marshaller', metric: `peak arrayBuffers over ${over}`, unit: 'B', value: value(vnf, 'peakArrayBuffersOverBaseline'), baseline: base(raw, 'peakArrayBuffersOverBaseline') }));
  }
  rows.push(row({ scenario: 'marshaller', metric: '10 MB JSON object round trip over WebSocketHub', unit: 'ms', value: value('json MarshallerHub/WebSocketHub', 'ms'), baseline: base('json raw ws', 'ms'), target: atMost(1.1, '≤ 1.1× JSON.stringify + one raw frame') }));
  return { rows, details: { size, reps, results, runs, jsonRuns, failures } };
};
