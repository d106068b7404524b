'use strict';
// Issue 19: PeerStreams (packages/streams) moving 2 GiB over MultiplexHub(WebSocketHub) through the broker and over
// MultiplexHub(RtcHub(WebSocketHub)) on @roamhq/wrtc, and 512 MiB between two Chromium pages, against the raw way
// to move the same bytes, side by side in one run. Run inside the loopback-only namespace (run.js does that).
//
// Node rows: sender and receiver each in a process of its own (lib/streams-host.js), relays in theirs. The source is
// 2 GiB generated on the fly (an async generator of fresh 1 MiB Buffers, as a file or socket gives them; never held
// in memory); the receiver reads `incoming.readable` and drops the bytes. The rate is the size over the time from
// `send()` in the sender to `incoming.done` (every byte there, the SHA-256 matched) in the receiver (process.hrtime:
// one monotonic clock for every process of the machine), after an 8 MiB warm-up on the same connection.
//   - raw ws: the same generator cut into 64 KiB binary messages, paced on the send callback (at most 1 MiB the
//     socket has not taken), through servers/raw-ws-bulk.js (servers/raw-ws.js plus backpressure: it stops reading
//     the sender while the receiver's socket holds more than 1 MiB, as the broker does). No hash, no framing.
//   - raw simple-peer: one data channel, 64 KiB messages, paced on bufferSize polled every 1 ms (wrtc fires no
//     bufferedamountlow), at most 1 MiB buffered; signaled through the bench's IPC.
//   Memory: peak RSS (sampled every 20 ms, and the kernel's maxRSS) and peak heapUsed + arrayBuffers of each
//   process, over what it was before the transfer. Progress cadence: the receiver's `progress` events (events per
//   second, median and longest gap; progressIntervalMs is 100 by default). Cancel: separate transfers the receiver
//   cancels after 8 MiB; latency = the sender's `done` rejecting CANCELLED minus the receiver's cancel(), and the
//   bytes of data frames that still reached the receiver within 500 ms after it (median over the reps).
// Chromium rows: two pages of one Chromium (playwright-core, /usr/bin/chromium, separate contexts) loading
// packages/vnf/dist/vnf.min.js; 512 MiB generated in the sender page (fresh 1 MiB Uint8Arrays) over PeerStreams on
// MultiplexHub(WebSocketHub) through the broker (and on MultiplexHub(RtcHub(WebSocketHub)), a direct data channel
// between the pages), against raw browser WebSocket through servers/raw-ws-bulk.js (64 KiB messages paced by polling
// bufferedAmount, at most 1 MiB) and raw RTCDataChannel (64 KiB, paced on bufferedamountlow at 256 KiB of 1 MiB).
// Peak JS heap of each page from CDP (Runtime.getHeapUsage every 50 ms: usedSize, and backingStorageSize, the
// ArrayBuffers outside the heap, including garbage not yet collected) over its value before the transfer.
//
// Knobs (diagnostics; the recorded figures use none): BENCH_STREAMS_MIB / BENCH_STREAMS_PAGE_MIB (sizes),
// BENCH_STREAMS_ONLY=ws,rtc,chromium (parts), BENCH_STREAMS_OPTIONS='{"windowBytes":16777216}' (PeerStreams options on
// both Node sides), BENCH_STREAMS_SOURCE_CHUNK=65536 (source chunk bytes), BENCH_STREAMS_RAW_HIGH (raw senders' mark),
// BENCH_STREAMS_RAW_ACKS=1 (raw simple-peer receiver sends a small message back every MiB, as credit does),
// BENCH_STREAMS_DEBUG=1 (the sender logs where it stood whenever it sent nothing for 200 ms),
// BENCH_STREAMS_NODE_FLAGS='--trace-gc' (flags of the sender and receiver processes), BENCH_STREAMS_TIMEOUT_MS.
const path = require('path');
const { fork } = require('child_process');
const { startServer } = require('../lib/server');
const { median, withTimeout, sleep } = require('../lib/measure');
const { row, atLeast } = require('../lib/rows');
const pages = require('../lib/streams-pages');

const MiB = 1024 * 1024;
const TARGET = atLeast(0.9, '≥ 0.9× raw');
/** Bytes per chunk of the generated source (diagnostics: BENCH_STREAMS_SOURCE_CHUNK=65536 is what fs.createReadStream yields). */
const SOURCE_CHUNK = Number(process.env.BENCH_STREAMS_SOURCE_CHUNK) || MiB;

// ---- processes ------------------------------------------------------------------------------------

function forkRole(name) {
  const child = fork(path.join(__dirname, '../lib/streams-host.js'), [], {
    execArgv: [
      '--expose-gc',
      // Diagnostics only: BENCH_STREAMS_NODE_FLAGS='--trace-gc' for the sender and receiver processes.
      ...(process.env.BENCH_STREAMS_NODE_FLAGS ? process.env.BENCH_STREAMS_NODE_FLAGS.split(' ') : []),
      ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(process.env.BENCH_CPU_PROF)}`, `--cpu-prof-name=streams-${name}-${process.pid}-${Date.now()}.cpuprofile`] : []),
    ],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let nextId = 0;
  const waiting = new Map();
  const role = { name, child, partner: null };
  const ready = new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code} before it was ready`)));
    child.on('message', (msg) => {
      if (msg.type === 'ready') return resolve();
      if (msg.type === 'signal') return role.partner && role.partner.child.send(msg);
      const pending = waiting.get(msg.id);
      if (!pending) return;
      waiting.delete(msg.id);
      if (msg.ok) pending.resolve(msg);
      else {
        const err = new Error(`${name}: ${msg.error}`);
        err.notAvailable = msg.notAvailable;
        pending.reject(err);
      }
    });
  });
  role.request = (type, extra = {}, timeoutMs = Number(process.env.BENCH_STREAMS_TIMEOUT_MS) || 600_000) =>
    withTimeout(
      new Promise((resolve, reject) => {
        const id = ++nextId;
        waiting.set(id, { resolve, reject });
        child.send({ ...extra, type, id });
      }),
      timeoutMs,
      `${name} ${type}`,
    );
  role.close = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null) return resolve();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.once('exit', () => (clearTimeout(timer), resolve()));
      role.request('close', {}, 10_000).catch(() => {});
    });
  return ready.then(() => role);
}

async function rolePair() {
  const [rx, tx] = await Promise.all([forkRole('receiver'), forkRole('sender')]);
  rx.partner = tx;
  tx.partner = rx;
  return { rx, tx, close: () => Promise.all([rx.close(), tx.close()]) };
}

const cpuSince = (after, before) => (after.user - before.user + after.system - before.system) / 1000;

/** Receiver progress events → { perSecond, medianMs, maxMs, count }. */
function cadence(times) {
  if (times.length < 2) return { count: times.length, perSecond: null, medianMs: null, maxMs: null };
  const gaps = times.slice(1).map((t, i) => t - times[i]);
  return { count: times.length, perSecond: (times.length - 1) / ((times[times.length - 1] - times[0]) / 1000), medianMs: median(gaps), maxMs: Math.max(...gaps) };
}

async function vnfNode(stack, server, size, { cancelReps, cancelAfter, log }) {
  const url = server.url;
  const { rx, tx, close } = await rolePair();
  try {
    const info = await rx.request('vnfOpen', { stack, url, eva: 'rx' }, 60_000);
    await tx.request('vnfOpen', { stack, url, eva: 'tx' }, 60_000);
    const transfer = async (bytes) => {
      await rx.request('vnfArm', { mode: 'full' });
      const s = await tx.request('vnfSend', { to: 'rx', size: bytes, chunk: SOURCE_CHUNK });
      const r = await rx.request('vnfResult');
      if (s.error || r.error || r.bytes !== bytes || r.sha256 !== s.sha256) throw new Error(`PeerStreams over ${stack}: sender ${s.error || 'ok'}, receiver ${r.error || 'ok'}, ${r.bytes} of ${bytes} bytes`);
      return { s, r };
    };
    await transfer(8 * MiB); // warm-up: the connection, the JIT
    const serverCpu = await server.cpu();
    const { s, r } = await transfer(size);
    const relayCpuMs = cpuSince(await server.cpu(), serverCpu);
    const seconds = (r.doneAt - s.startAt) / 1000;
    const result = {
      relayCpuMs,
      mbPerSecond: size / 1e6 / seconds,
      seconds,
      senderDoneSeconds: (s.doneAt - s.startAt) / 1000,
      sender: s.memory,
      receiver: r.memory,
      senderCpuMs: s.cpuMs,
      receiverCpuMs: r.cpuMs,
      cadence: cadence(r.progressAt),
      maxGapMs: r.maxGapMs,
      senderProgressEvents: s.progressCount,
      chunkSize: info.chunkSize,
      cancels: [],
    };
    log(`PeerStreams/${stack}: ${size / MiB} MiB in ${seconds.toFixed(2)} s = ${result.mbPerSecond.toFixed(1)} MB/s (chunk ${info.chunkSize} B; CPU sender ${s.cpuMs.toFixed(0)} ms, receiver ${r.cpuMs.toFixed(0)} ms, broker ${relayCpuMs.toFixed(0)} ms; peak RSS +${(s.memory.peakRssOver / MiB).toFixed(0)} / +${(r.memory.peakRssOver / MiB).toFixed(0)} MiB; progress ${result.cadence.count} events, median gap ${result.cadence.medianMs?.toFixed(1)} ms, max ${result.cadence.maxMs?.toFixed(1)} ms; longest pause in the data ${r.maxGapMs.toFixed(1)} ms)`);
    for (let i = 0; i < cancelReps; i++) {
      await rx.request('vnfArm', { mode: 'cancel', cancelAfter });
      const cs = await tx.request('vnfSend', { to: 'rx', size: 1024 * MiB });
      const cr = await rx.request('vnfResult');
      if (cs.error !== 'CANCELLED' || cr.cancelAt === null) throw new Error(`cancel over ${stack}: sender ${cs.error}, receiver ${cr.error}`);
      result.cancels.push({ latencyMs: cs.doneAt - cr.cancelAt, wireBytesAfter: cr.afterCancelWire, readAfter: cr.readAfterCancel, receiverError: cr.error, senderTransferred: cs.transferred });
    }
    if (cancelReps) {
      result.cancelLatencyMs = median(result.cancels.map((c) => c.latencyMs));
      result.cancelWireBytesAfter = median(result.cancels.map((c) => c.wireBytesAfter));
      result.cancelReadAfter = Math.max(...result.cancels.map((c) => c.readAfter));
      log(`PeerStreams/${stack} cancel after ${cancelAfter / MiB} MiB: ${result.cancels.map((c) => `${c.latencyMs.toFixed(2)} ms, ${(c.wireBytesAfter / 1024).toFixed(0)} KiB after`).join('; ')}`);
    }
    return result;
  } finally {
    await close();
  }
}

async function rawNode(kind, server, size, { log }) {
  const url = server && server.url;
  const { rx, tx, close } = await rolePair();
  try {
    if (kind === 'ws') {
      await Promise.all([rx.request('rawWsOpen', { url, self: 'rx', peer: 'tx' }, 30_000), tx.request('rawWsOpen', { url, self: 'tx', peer: 'rx' }, 30_000)]);
    } else {
      await Promise.all([rx.request('spOpen', { initiator: false }, 30_000), tx.request('spOpen', { initiator: true }, 30_000)]);
    }
    const transfer = async (bytes) => {
      await rx.request('rawArm', { size: bytes });
      const s = await tx.request('rawSend', { size: bytes, chunk: SOURCE_CHUNK });
      const r = await rx.request('rawResult');
      return { s, r };
    };
    await transfer(8 * MiB);
    const serverCpu = server ? await server.cpu() : null;
    const { s, r } = await transfer(size);
    const relayCpuMs = server ? cpuSince(await server.cpu(), serverCpu) : null;
    const seconds = (r.doneAt - s.startAt) / 1000;
    const result = { relayCpuMs, maxGapMs: r.maxGapMs, mbPerSecond: size / 1e6 / seconds, seconds, sender: s.memory, receiver: r.memory, senderCpuMs: s.cpuMs, receiverCpuMs: r.cpuMs };
    log(`raw ${kind}: ${size / MiB} MiB in ${seconds.toFixed(2)} s = ${result.mbPerSecond.toFixed(1)} MB/s (CPU sender ${s.cpuMs.toFixed(0)} ms, receiver ${r.cpuMs.toFixed(0)} ms${relayCpuMs === null ? '' : `, relay ${relayCpuMs.toFixed(0)} ms`}; peak RSS +${(s.memory.peakRssOver / MiB).toFixed(0)} / +${(r.memory.peakRssOver / MiB).toFixed(0)} MiB; longest pause in the data ${r.maxGapMs.toFixed(1)} ms)`);
    return result;
  } finally {
    await close();
  }
}

/** Runs `fn`, turning a failure into { failed } so the other rows still come. */
async function attempt(what, fn, log) {
  try {
    return await fn();
  } catch (err) {
    log(`${what}: ${String(err.stack || err).split('\n').slice(0, 3).join(' | ')}`);
    return { failed: err.notAvailable ? 'not available' : 'failed', reason: String(err.message || err).split('\n')[0] };
  }
}

// ---- rows -----------------------------------------------------------------------------------------

function rowsFor(label, vnf, rawName, raw, size, extra = {}) {
  const ok = (r) => r && !r.failed;
  const value = (r, pick) => (ok(r) ? pick(r) : (r && r.failed) || 'failed');
  const base = (pick) => ({ name: rawName, value: ok(raw) ? pick(raw) : null });
  const rows = [];
  const sizeText = size >= 1024 * MiB ? `${size / 1024 / MiB} GiB` : `${size / MiB} MiB`;
  rows.push(row({ scenario: 'streams', metric: `${sizeText} over ${label}`, unit: 'MB/s', value: value(vnf, (r) => r.mbPerSecond), baseline: base((r) => r.mbPerSecond), target: TARGET, note: ok(vnf) ? undefined : vnf && vnf.reason }));
  const mem = extra.memory || [
    ['sender peak RSS', (r) => r.sender.peakRssOver],
    ['receiver peak RSS', (r) => r.receiver.peakRssOver],
    ['sender peak heap+arrayBuffers', (r) => r.sender.peakHeapBuffersOver],
    ['receiver peak heap+arrayBuffers', (r) => r.receiver.peakHeapBuffersOver],
  ];
  for (const [name, pick] of mem) rows.push(row({ scenario: 'streams', metric: `${name} over ${label}`, unit: 'B', value: value(vnf, pick), baseline: base(pick) }));
  if (ok(vnf) && vnf.maxGapMs !== undefined) {
    rows.push(row({ scenario: 'streams', metric: `longest pause in the data over ${label}`, unit: 'ms', value: vnf.maxGapMs, baseline: base((r) => r.maxGapMs) }));
  }
  if (ok(vnf) && vnf.cadence) {
    const c = vnf.cadence;
    rows.push(row({ scenario: 'streams', metric: `receiver progress events over ${label}`, unit: '/s', value: c.perSecond ?? 'n/a', note: `gap median ${c.medianMs?.toFixed(1)} ms, max ${c.maxMs?.toFixed(1)} ms (${c.count} events; progressIntervalMs 100)` }));
  }
  if (ok(vnf) && vnf.cancelLatencyMs !== undefined) {
    rows.push(
      row({
        scenario: 'streams',
        metric: `cancel latency over ${label}`,
        unit: 'ms',
        value: vnf.cancelLatencyMs,
        note: `receiver cancel() → sender done rejects CANCELLED, median of ${vnf.cancels.length}; ${(vnf.cancelWireBytesAfter / 1024).toFixed(0)} KiB of data frames still arrived after it (dropped)${vnf.cancelReadAfter === undefined ? '' : `, ${vnf.cancelReadAfter} B read after it`}`,
      }),
    );
  }
  return rows;
}

// ---- the scenario ---------------------------------------------------------------------------------

exports.run = async ({ quick, log }) => {
  const size = (Number(process.env.BENCH_STREAMS_MIB) || (quick ? 64 : 2048)) * MiB;
  const pageSize = (Number(process.env.BENCH_STREAMS_PAGE_MIB) || (quick ? 32 : 512)) * MiB;
  const cancelReps = quick ? 2 : 5;
  const cancelAfter = 8 * MiB;
  const only = (process.env.BENCH_STREAMS_ONLY || 'ws,rtc,chromium').split(',');
  const broker = await startServer('broker');
  const relay = await startServer('raw-ws-bulk');
  const results = {};
  try {
    if (only.includes('ws')) {
      results['PeerStreams/WebSocketHub'] = await attempt('PeerStreams/WebSocketHub', () => vnfNode('ws', broker, size, { cancelReps, cancelAfter, log }), log);
      results['raw ws'] = await attempt('raw ws', () => rawNode('ws', relay, size, { log }), log);
    }
    if (only.includes('rtc')) {
      results['PeerStreams/RtcHub'] = await attempt('PeerStreams/RtcHub', () => vnfNode('rtc', broker, size, { cancelReps, cancelAfter, log }), log);
      results['raw simple-peer'] = await attempt('raw simple-peer', () => rawNode('sp', null, size, { log }), log);
    }
    if (only.includes('chromium')) {
      Object.assign(results, await attempt('Chromium', () => pages.run({ brokerUrl: broker.url, relayUrl: relay.url, size: pageSize, cancelReps, cancelAfter, quick, log }), log));
    }
  } finally {
    await broker.close();
    await relay.close();
  }
  const rows = [];
  if (only.includes('ws')) rows.push(...rowsFor('WebSocketHub (Node, broker)', results['PeerStreams/WebSocketHub'], 'raw ws bulk', results['raw ws'], size));
  if (only.includes('rtc')) rows.push(...rowsFor('RtcHub (Node, wrtc)', results['PeerStreams/RtcHub'], 'raw simple-peer', results['raw simple-peer'], size));
  if (only.includes('chromium')) {
    const memory = [
      ['sender page peak JS heap', (r) => r.sender.peakHeapOver],
      ['receiver page peak JS heap', (r) => r.receiver.peakHeapOver],
      ['sender page peak ArrayBuffer backing stores', (r) => r.sender.peakBackingStoreOver],
      ['receiver page peak ArrayBuffer backing stores', (r) => r.receiver.peakBackingStoreOver],
    ];
    const c = results.failed ? { failed: results.failed, reason: results.reason } : null;
    rows.push(...rowsFor('WebSocketHub (Chromium pages)', c || results['Chromium PeerStreams/WebSocketHub'], 'raw WebSocket', c || results['Chromium raw WebSocket'], pageSize, { memory }));
    rows.push(...rowsFor('RtcHub (Chromium pages)', c || results['Chromium PeerStreams/RtcHub'], 'raw RTCDataChannel', c || results['Chromium raw RTCDataChannel'], pageSize, { memory }));
  }
  return { rows, details: { size, pageSize, cancelReps, cancelAfter, results } };
};
