'use strict';
// SecureHub (Noise XX handshake, then one ChaCha20-Poly1305 record per message) against the same stack without it,
// in two parts, each with interleaved reps in this one run (which system goes first rotates), medians reported and
// every rep's figure, range and ratio in `details`. Runs inside the loopback-only namespace (run.js does that: the
// second part opens WebRTC; the broker of the first part binds 127.0.0.1 there as anywhere).
// 1. Through the broker (its own process, servers/broker.js): SecureHub(WebSocketHub) against bare WebSocketHub,
//    100 B strings a → b, at most 1 000 in flight (lib/measure.js createPump), 200 000 messages per rep, 7 reps. Each
//    side has a hub (and socket) of its own, and each SecureHub an identity of its own, as two users would. Both
//    pairs stay open on one broker. The ratio is what end-to-end encryption costs on the relay path. Target ≥ 0.7×.
// 2. Over RtcHub (@roamhq/wrtc, no ICE servers: host candidates on loopback only), both peers in this process and
//    RtcHub's signaling over an InBrowserHub, built as in rtc.js: bare RtcHub(InBrowserHub) with endpoints a and b,
//    against two SecureHubs (an identity each) over one RtcHub(InBrowserHub), one opening a, the other b. 16 KiB
//    binary messages, at most 1 MiB in flight, 10 rounds of 32 MiB a system. The ratio is what encryption costs on a
//    direct link. Target ≥ 0.8×.
// SecureHub runs with its defaults (rekeying every 65 536 messages or 64 MiB in each direction included).
// Every rep checks that the receiver got what was sent (count and size), so no system is timed on a short delivery.
const { loadVnf } = require('../lib/vnf');
const { startServer } = require('../lib/server');
const { createPump, withTimeout, median, messagePool } = require('../lib/measure');
const { row, atLeast } = require('../lib/rows');

const SMALL = 100;
const SMALL_WINDOW = 1_000;
const BULK = 16 * 1024;
const BULK_WINDOW = (1024 * 1024) / BULK; // 1 MiB in flight
const pool = messagePool(SMALL);

const BARE_WS = 'WebSocketHub';
const SECURE_WS = 'SecureHub(WebSocketHub)';
const BARE_RTC = 'RtcHub';
const SECURE_RTC = 'SecureHub(RtcHub)';

const summary = (values) => ({ median: median(values), min: Math.min(...values), max: Math.max(...values), runs: values });
/** A figure as the log and the notes print it: msg/s in whole messages, MB/s to a tenth. */
const num = (x, unit) => x.toFixed(unit === 'MB/s' ? 1 : 0);
const fmt = (values, unit) => values.map((x) => num(x, unit)).join(', ');

/**
 * Connects endpoint `ea` (eva `a`) to `eb` (eva `b`) and waits until b knows of a. Returns `send(m)` (a → b) and
 * `onMessage(fn)`, which makes `fn(message)` run for everything b receives.
 */
async function connect(ea, eb, a, b, what) {
  // Errors either side reports go into the failure, so a refused handshake says why.
  const errors = [];
  for (const [eva, e] of [[a, ea], [b, eb]]) e.on('error', (err) => errors.push(`${eva}: ${err.code || ''} ${err.message}`));
  const event = await withTimeout(ea.openConnection(b), 30_000, `${what}: ${a} opening ${b}`);
  if (event.status !== 'CONNECTED') throw new Error(`${what}: openConnection ${event.status} ${event.reason || ''}${errors.length ? ` (${errors.slice(0, 2).join('; ')})` : ''}`);
  if (!eb.isConnected(a)) await withTimeout(new Promise((resolve) => eb.once('connection', resolve)), 10_000, `${what}: ${b} accepting ${a}`);
  let handler = () => {};
  eb.onMessage = (e) => handler(e.message);
  return { send: (m) => ea.send(b, m), onMessage: (fn) => (handler = fn) };
}

/** `a` → `b` through the broker at `url`, each endpoint on a WebSocketHub of its own, each hub wrapped by `wrap`. */
async function relayPair({ WebSocketHub, WebSocketFactory }, url, { name, prefix, wrap }) {
  const hubA = wrap(new WebSocketHub(new WebSocketFactory(url)));
  const hubB = wrap(new WebSocketHub(new WebSocketFactory(url)));
  const close = () => Promise.all([hubA.close(), hubB.close()]);
  try {
    const [a, b] = [`${prefix}a`, `${prefix}b`];
    const ea = hubA.openEndpoint(a);
    const eb = hubB.openEndpoint(b);
    // b must be registered at the broker before a asks for it (as in reliable.js): asking for a missing eva answers
    // NOT_FOUND only once the broker has registered the asking endpoint.
    const probe = await withTimeout(eb.openConnection(`${b}-missing`), 30_000, `${name}: ${b} coming online`);
    if (probe.reason !== 'NOT_FOUND') throw new Error(`${name}: endpoint ${b} did not come online: ${probe.status} ${probe.reason}`);
    return { name, ea, peer: b, ...(await connect(ea, eb, a, b, name)), close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Endpoint a on `hubs[0]` and b on `hubs[1]` (the same hub twice, or one hub each), connected a → b over WebRTC. */
async function rtcPair(name, hubs) {
  const [hubA, hubB] = hubs;
  const close = () => Promise.all(hubs.map((h) => h.close()));
  try {
    const ea = hubA.openEndpoint('a');
    const eb = hubB.openEndpoint('b');
    return { name, ea, peer: 'b', ...(await connect(ea, eb, 'a', 'b', name)), close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** `total` messages a → b, at most `window` in flight; rejects unless every one arrived whole. Messages a second. */
async function rate(pair, { total, window, message, size }) {
  const pump = createPump({ total, window, send: (i) => pair.send(message(i)) });
  let wrong = null;
  pair.onMessage((m) => {
    const length = typeof m === 'string' ? m.length : m.byteLength;
    if (length !== size && !wrong) wrong = `a message of ${length} B instead of ${size} B`;
    pump.ack();
  });
  const ms = await withTimeout(pump.start(), 90_000, `${pair.name}: ${total} messages`);
  if (wrong) throw new Error(`${pair.name} delivered ${wrong}`);
  return total / (ms / 1000);
}

/** Each pair once a round, `rounds` times, each round starting one further along, so none always goes first. */
async function interleaved(pairs, rounds, measure, log, unit) {
  const out = new Map(pairs.map((p) => [p.name, []]));
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < pairs.length; i++) {
      const pair = pairs[(i + r) % pairs.length];
      const value = await measure(pair);
      out.get(pair.name).push(value);
      log(`rep ${r + 1} ${pair.name}: ${num(value, unit)} ${unit}`);
    }
  }
  return out;
}

/** The rekeys of a's sending key so far, when the pair is SecureHub's. */
const rekeys = (pair) => (typeof pair.ea.rekeys === 'function' ? pair.ea.rekeys(pair.peer) : undefined);

async function overBroker({ SecureHub, Identity }, quick, log) {
  const ws = loadVnf('websocket-hub', ['WebSocketHub', 'WebSocketFactory']);
  const small = { total: quick ? 5_000 : 200_000, window: SMALL_WINDOW, message: (i) => pool[i & 1023], size: SMALL };
  const reps = quick ? 1 : 7;
  const server = await startServer('broker');
  const systems = [
    { name: BARE_WS, prefix: 'ws-', wrap: (hub) => hub },
    { name: SECURE_WS, prefix: 'secure-', wrap: (hub) => new SecureHub(hub, { identity: Identity.generate() }) },
  ];
  const pairs = [];
  try {
    for (const system of systems) {
      const pair = await relayPair(ws, server.url, system);
      pairs.push(pair);
      await rate(pair, { ...small, total: small.total / 5 }); // warm-up: JIT, socket buffers, the broker's maps
    }
    const runs = await interleaved(pairs, reps, (pair) => rate(pair, small), log, 'msg/s');
    return { total: small.total, reps, size: SMALL, window: SMALL_WINDOW, bare: summary(runs.get(BARE_WS)), secure: summary(runs.get(SECURE_WS)), rekeys: rekeys(pairs[1]) };
  } finally {
    for (const pair of pairs) await pair.close();
    await server.close();
  }
}

async function overRtc({ SecureHub, Identity }, quick, log) {
  const { RtcHub } = loadVnf('rtc-hub', ['RtcHub']);
  const { InBrowserHub } = loadVnf('in-browser-hub', ['InBrowserHub']);
  const chunk = new Uint8Array(BULK).fill(7);
  const bulk = { total: quick ? 64 : 2_048, window: BULK_WINDOW, message: () => chunk, size: BULK }; // 32 MiB a round
  const rounds = quick ? 1 : 10;
  const pairs = [];
  try {
    // As rtc.js: one RtcHub holding both endpoints, its signaling over an InBrowserHub.
    const bare = new RtcHub(new InBrowserHub());
    pairs.push(await rtcPair(BARE_RTC, [bare, bare]));
    // The same, with a SecureHub (and an identity) for each side on top. Both close the one RtcHub (once).
    const inner = new RtcHub(new InBrowserHub());
    pairs.push(await rtcPair(SECURE_RTC, [new SecureHub(inner, { identity: Identity.generate() }), new SecureHub(inner, { identity: Identity.generate() })]));
    for (const pair of pairs) await rate(pair, { ...bulk, total: bulk.total / 8 }); // warm-up
    const runs = await interleaved(pairs, rounds, async (pair) => ((await rate(pair, bulk)) * BULK) / 1e6, log, 'MB/s');
    return { total: bulk.total, rounds, size: BULK, window: bulk.window, bare: summary(runs.get(BARE_RTC)), secure: summary(runs.get(SECURE_RTC)), rekeys: rekeys(pairs[1]) };
  } finally {
    for (const pair of pairs) await pair.close();
  }
}

/** A part that cannot run costs its row, not the other's: "not available" or "failed" with the reason. */
async function attempt(what, fn, log) {
  try {
    return { result: await fn() };
  } catch (err) {
    const failure = err.notAvailable ? `not available: ${err.message.split('\n')[0]}` : `failed: ${err.message}`;
    log(`${what}: ${failure}`);
    return { failure };
  }
}

exports.run = async ({ quick, log }) => {
  const libs = loadVnf('secure-hub', ['SecureHub']);
  if (!libs.Identity || typeof libs.Identity.generate !== 'function') throw Object.assign(new Error('@vnf/secure-hub export Identity not available'), { notAvailable: true });
  const broker = await attempt('over the broker', () => overBroker(libs, quick, log), log);
  const rtc = await attempt('over RtcHub', () => overRtc(libs, quick, log), log);
  const note = (part, bareName, unit) => {
    if (!part.result) return part.failure;
    const { bare, secure } = part.result;
    const range = (x) => `${num(x.min, unit)} to ${num(x.max, unit)} ${unit}`;
    return `medians of ${bare.runs.length} interleaved reps; SecureHub ${range(secure)}, ${bareName} ${range(bare)}`;
  };
  const ratios = {};
  if (broker.result) {
    const { bare, secure } = broker.result;
    ratios.broker = secure.median / bare.median;
    log(`${SECURE_WS}: ${fmt(secure.runs, 'msg/s')} msg/s; ${BARE_WS}: ${fmt(bare.runs, 'msg/s')} msg/s; ratio of medians ${ratios.broker.toFixed(2)}×`);
  }
  if (rtc.result) {
    const { bare, secure } = rtc.result;
    ratios.rtc = secure.median / bare.median;
    log(`${SECURE_RTC}: ${fmt(secure.runs, 'MB/s')} MB/s; ${BARE_RTC}: ${fmt(bare.runs, 'MB/s')} MB/s; ratio of medians ${ratios.rtc.toFixed(2)}×`);
  }
  return {
    rows: [
      row({
        scenario: 'secure',
        metric: `${SECURE_WS} 100 B throughput via broker`,
        unit: 'msg/s',
        value: broker.result ? broker.result.secure.median : broker.failure.split(':')[0],
        baseline: broker.result ? { name: BARE_WS, value: broker.result.bare.median } : undefined,
        target: atLeast(0.7, `≥ 0.7× ${BARE_WS}`),
        note: note(broker, BARE_WS, 'msg/s'),
      }),
      row({
        scenario: 'secure',
        metric: `${SECURE_RTC} 16 KiB bulk`,
        unit: 'MB/s',
        value: rtc.result ? rtc.result.secure.median : rtc.failure.split(':')[0],
        baseline: rtc.result ? { name: BARE_RTC, value: rtc.result.bare.median } : undefined,
        target: atLeast(0.8, `≥ 0.8× ${BARE_RTC}`),
        note: note(rtc, BARE_RTC, 'MB/s'),
      }),
    ],
    details: { broker: broker.result || { failure: broker.failure }, rtc: rtc.result || { failure: rtc.failure }, ratios },
  };
};
