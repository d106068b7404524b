'use strict';
// ReliableHub, in two parts.
// 1. ReliableHub(WebSocketHub) against bare WebSocketHub through the real broker (its own process): 100 B
//    strings a → b, at most 1 000 in flight (lib/measure.js createPump), one hub per side so each endpoint has
//    its own socket. Both pairs stay open on one broker; the reps alternate which goes first, the median of each
//    is reported and the range is in the row's note. The ratio is what exactly-once delivery costs on the relay.
// 2. Goodput under loss: ReliableHub(UnreliableHub(InBrowserHub, { drop, seed })), both endpoints in this
//    process, 1 000 B messages, at most 512 unacknowledged by the application. The UnreliableHub drops data and
//    acknowledgements alike with the given probability, from a fixed seed, so every run drops the same messages.
//    The baseline is the same stack at 0 % drop (lossless), so the ratio is what loss recovery costs. Each rate
//    runs 5 times, the rates interleaved, and the median run stands for it; each row's note gives the range. A run
//    is 150 000 messages (about a second): with 30 000 a run lasted 0.1 to 0.5 s, so one garbage collection or a
//    neighbour's burst moved a rate by a third and 10 % drop came out anywhere from 0.6× to 1.3× lossless. The link
//    has no added latency: the figures are CPU- and timer-bound (retransmission timeout floor, acknowledgement
//    delay), not bandwidth-bound.
//    Every message carries its index; the receiver checks in-order, exactly-once delivery as it counts.
const { loadVnf } = require('../lib/vnf');
const { startServer } = require('../lib/server');
const { createPump, withTimeout, now, median, messagePool } = require('../lib/measure');
const { row, atLeast } = require('../lib/rows');

const SIZE = 1000;
const SEED = 20261123;
const DROPS = [0, 0.05, 0.1, 0.2];

const RELAY_SIZE = 100;
const RELAY_WINDOW = 1_000;
const pool = messagePool(RELAY_SIZE);

/**
 * Two endpoints `${prefix}a` and `${prefix}b`, each on its own WebSocketHub (wrapped by `wrap`), connected a → b
 * through the broker at `url`: { send(s), onmessage, close() }. Both systems share the broker, so their evas differ.
 */
async function relayPair({ WebSocketHub, WebSocketFactory }, url, wrap, prefix) {
  const hubA = wrap(new WebSocketHub(new WebSocketFactory(url)));
  const hubB = wrap(new WebSocketHub(new WebSocketFactory(url)));
  const close = () => Promise.all([hubA.close(), hubB.close()]);
  try {
    const [a, b] = [`${prefix}a`, `${prefix}b`];
    const ea = hubA.openEndpoint(a);
    const eb = hubB.openEndpoint(b);
    // b must be registered at the broker before a asks for it: connecting to a missing eva answers
    // NOT_FOUND only once the broker registered the asking endpoint, on every layer of the stack.
    const probe = await eb.openConnection(`${b}-missing`);
    if (probe.reason !== 'NOT_FOUND') throw new Error(`endpoint ${b} did not come online: ${probe.status} ${probe.reason}`);
    const event = await ea.openConnection(b);
    if (event.status !== 'CONNECTED') throw new Error(`openConnection: ${event.status} ${event.reason || ''}`);
    if (!eb.isConnected(a)) await withTimeout(new Promise((resolve) => eb.once('connection', resolve)), 10_000, `${b} accepting ${a}`);
    const pair = { send: (s) => ea.send(b, s), onmessage: null, close };
    eb.onMessage = (e) => pair.onmessage(e.message);
    return pair;
  } catch (err) {
    await close();
    throw err;
  }
}

async function relayThroughput(pair, total) {
  const pump = createPump({ total, window: RELAY_WINDOW, send: (i) => pair.send(pool[i & 1023]) });
  pair.onmessage = () => pump.ack();
  const ms = await withTimeout(pump.start(), 60_000, `relay of ${total} messages`);
  return total / (ms / 1000);
}

/** ReliableHub(WebSocketHub) and bare WebSocketHub through one broker, interleaved reps. */
async function overBroker({ ReliableHub }, quick, log) {
  const ws = loadVnf('websocket-hub', ['WebSocketHub', 'WebSocketFactory']);
  const total = quick ? 5_000 : 200_000;
  const reps = quick ? 1 : 7;
  const server = await startServer('broker');
  const systems = [
    { name: 'WebSocketHub', prefix: 'ws-', wrap: (hub) => hub },
    { name: 'ReliableHub(WebSocketHub)', prefix: 'rh-', wrap: (hub) => new ReliableHub(hub) },
  ];
  const results = Object.fromEntries(systems.map(({ name }) => [name, []]));
  try {
    for (const system of systems) {
      system.pair = await relayPair(ws, server.url, system.wrap, system.prefix);
      // Warm-up: JIT, socket buffers and the broker's maps.
      await relayThroughput(system.pair, total / 5);
    }
    for (let r = 0; r < reps; r++) {
      for (let i = 0; i < systems.length; i++) {
        const { name, pair } = systems[(i + r) % systems.length];
        results[name].push(await relayThroughput(pair, total));
        log(`rep ${r + 1} ${name}: ${results[name][r].toFixed(0)} msg/s`);
      }
    }
  } finally {
    for (const { pair } of systems) if (pair) await pair.close();
    await server.close();
  }
  const summary = (values) => ({ median: median(values), min: Math.min(...values), max: Math.max(...values), runs: values });
  return { total, reps, size: RELAY_SIZE, window: RELAY_WINDOW, bare: summary(results.WebSocketHub), reliable: summary(results['ReliableHub(WebSocketHub)']) };
}

async function goodput({ ReliableHub, UnreliableHub, InBrowserHub }, drop, total, window, capMs) {
  const unreliable = new UnreliableHub(new InBrowserHub(), { seed: SEED });
  const hub = new ReliableHub(unreliable);
  try {
    const a = hub.openEndpoint('a');
    const b = hub.openEndpoint('b');
    const errors = [];
    a.on('error', (e) => errors.push(e));
    b.on('error', (e) => errors.push(e));
    // Open while the link is lossless; loss starts with the measured messages.
    const event = await a.openConnection('b');
    if (event.status !== 'CONNECTED') throw new Error(`openConnection: ${event.status} ${event.reason || ''}`);
    unreliable.chaos.set({ drop });
    const pad = 'x'.repeat(SIZE);
    let expected = 0;
    let disorder = null;
    const pump = createPump({ total, window, send: (i) => a.send('b', `${i}:${pad}`.slice(0, SIZE)) });
    b.onMessage = ({ message }) => {
      const index = parseInt(message, 10);
      if (index !== expected && !disorder) disorder = `expected message ${expected}, got ${index}`;
      expected++;
      pump.ack();
    };
    const started = now();
    let timedOut = false;
    try {
      await withTimeout(pump.start(), capMs, `goodput at ${drop * 100} % drop`);
    } catch {
      timedOut = true; // report what arrived within the cap rather than nothing
    }
    const seconds = (now() - started) / 1000;
    if (disorder) throw new Error(`ReliableHub broke ordering at ${drop * 100} % drop: ${disorder}`);
    return {
      drop,
      delivered: pump.acked,
      seconds,
      timedOut,
      msgPerSecond: pump.acked / seconds,
      mbPerSecond: (pump.acked * SIZE) / 1e6 / seconds,
      chaos: unreliable.chaos.stats(),
      errors: errors.map((e) => `${e.code}: ${e.message}`).slice(0, 3),
    };
  } finally {
    await hub.close();
  }
}

exports.run = async ({ quick, log }) => {
  const libs = {
    ...loadVnf('reliable-hub', ['ReliableHub']),
    ...loadVnf('unreliable-hub', ['UnreliableHub']),
    ...loadVnf('in-browser-hub', ['InBrowserHub']),
  };
  // A broker that cannot start (or a run that fails) costs its row, not the loss rows.
  let broker = null;
  let brokerFailure = null;
  try {
    broker = await overBroker(libs, quick, log);
  } catch (err) {
    brokerFailure = err.notAvailable ? `not available: ${err.message.split('\n')[0]}` : `failed: ${err.message}`;
    log(`over the broker: ${brokerFailure}`);
  }
  const total = quick ? 1_000 : 150_000;
  const window = 512;
  const capMs = quick ? 20_000 : 40_000;
  const lossReps = quick ? 1 : 5;
  await goodput(libs, 0, total / 10, window, capMs); // warm-up
  // Each drop rate `lossReps` times, the rates interleaved, so a busy moment of the machine does not land on one rate.
  const runs = DROPS.map(() => []);
  for (let r = 0; r < lossReps; r++) {
    for (const [i, drop] of DROPS.entries()) {
      const run = await goodput(libs, drop, total, window, capMs);
      runs[i].push(run);
      log(`${drop * 100} % drop: ${run.msgPerSecond.toFixed(0)} msg/s (${run.mbPerSecond.toFixed(2)} MB/s), ${run.delivered}/${total} in ${run.seconds.toFixed(2)} s${run.timedOut ? ' (time cap reached)' : ''}`);
    }
  }
  // The run of median goodput at each rate stands for it.
  const results = runs.map((reps) => [...reps].sort((x, y) => x.mbPerSecond - y.mbPerSecond)[reps.length >> 1]);
  const spread = (i) => {
    const values = runs[i].map((run) => run.mbPerSecond);
    return `median of ${lossReps}, ${Math.min(...values).toFixed(0)} to ${Math.max(...values).toFixed(0)} MB/s`;
  };
  const lossless = { name: 'lossless', value: results[0].mbPerSecond };
  const range = ({ min, max }) => `${(min / 1000).toFixed(0)}k to ${(max / 1000).toFixed(0)}k msg/s over ${broker.reps} reps`;
  return {
    rows: [
      row({
        scenario: 'reliable',
        metric: 'ReliableHub(WebSocketHub) 100 B throughput via broker',
        unit: 'msg/s',
        value: broker ? broker.reliable.median : brokerFailure.split(':')[0],
        baseline: broker ? { name: 'WebSocketHub', value: broker.bare.median } : undefined,
        target: atLeast(0.8, '≥ 0.8× WebSocketHub'),
        note: broker ? `ReliableHub ${range(broker.reliable)}; WebSocketHub ${range(broker.bare)}` : brokerFailure,
      }),
      ...results.map((r, i) =>
        row({
          scenario: 'reliable',
          metric: `goodput at ${r.drop * 100} % drop${r.timedOut ? ' (capped)' : ''}`,
          unit: 'MB/s',
          value: r.mbPerSecond,
          baseline: r.drop === 0 ? undefined : lossless,
          target: r.drop === 0.1 ? atLeast(0.79, '≥ 0.79× lossless') : undefined,
          note: r.drop === 0 ? `the baseline; ${spread(i)}` : spread(i),
        }),
      ),
    ],
    details: { broker, brokerFailure, total, window, size: SIZE, seed: SEED, lossReps, results, runs: runs.map((reps) => reps.map((run) => run.mbPerSecond)) },
  };
};
