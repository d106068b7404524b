'use strict';
// ReliableHub goodput under loss: ReliableHub(UnreliableHub(InBrowserHub, { drop, seed })), both
// endpoints in this process, 1 000 B messages, at most 512 unacknowledged by the application.
// The UnreliableHub drops data and acknowledgements alike with the given probability, from a fixed
// seed, so every run drops the same messages. The baseline is the same stack at 0 % drop (lossless),
// so the ratio is what loss recovery costs. The link has no added latency: the figures are CPU- and
// timer-bound (retransmission timeout floor, acknowledgement delay), not bandwidth-bound.
// Every message carries its index; the receiver checks in-order, exactly-once delivery as it counts.
const { loadVnf } = require('../lib/vnf');
const { createPump, withTimeout, now } = require('../lib/measure');
const { row, atLeast } = require('../lib/rows');

const SIZE = 1000;
const SEED = 20261123;
const DROPS = [0, 0.05, 0.1, 0.2];

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
  const total = quick ? 1_000 : 30_000;
  const window = 512;
  const capMs = quick ? 20_000 : 40_000;
  await goodput(libs, 0, total / 10, window, capMs); // warm-up
  const results = [];
  for (const drop of DROPS) {
    const r = await goodput(libs, drop, total, window, capMs);
    results.push(r);
    log(`${drop * 100} % drop: ${r.msgPerSecond.toFixed(0)} msg/s (${r.mbPerSecond.toFixed(2)} MB/s), ${r.delivered}/${total} in ${r.seconds.toFixed(2)} s${r.timedOut ? ' (time cap reached)' : ''}`);
  }
  const lossless = { name: 'lossless', value: results[0].mbPerSecond };
  return {
    rows: results.map((r) =>
      row({
        scenario: 'reliable',
        metric: `goodput at ${r.drop * 100} % drop${r.timedOut ? ' (capped)' : ''}`,
        unit: 'MB/s',
        value: r.mbPerSecond,
        baseline: r.drop === 0 ? undefined : lossless,
        target: r.drop === 0.1 ? atLeast(0.5, '≥ 0.5× lossless') : undefined,
        note: r.drop === 0 ? 'the baseline' : undefined,
      }),
    ),
    details: { total, window, size: SIZE, seed: SEED, results },
  };
};
