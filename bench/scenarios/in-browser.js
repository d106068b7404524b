'use strict';
// InBrowserHub message rate: one endpoint sends 100 B strings to another in the same process,
// against the floor of any in-process event bus, a bare eventemitter3 emit → listener loop.
// The hub must also be asynchronous, count connections and check payloads; the emitter does none
// of that, so the ratio says what the network-faithful behaviour costs.
const path = require('path');
const { createRequire } = require('module');
const { loadVnf } = require('../lib/vnf');
const { now, median, createPump, withTimeout, messagePool } = require('../lib/measure');
const { row, atLeast } = require('../lib/rows');

// The eventemitter3 that @vnf/core itself uses (the hoisted copy may be an older major).
const EventEmitter = createRequire(path.resolve(__dirname, '../../packages/core/package.json'))('eventemitter3');

const pool = messagePool(100);

function emitterRate(total) {
  const ee = new EventEmitter();
  let received = 0;
  ee.on('m', () => received++);
  const started = now();
  for (let i = 0; i < total; i++) ee.emit('m', pool[i & 1023]);
  const ms = now() - started;
  if (received !== total) throw new Error('eventemitter3 lost messages');
  return total / (ms / 1000);
}

async function hubRate(InBrowserHub, total, window) {
  const hub = new InBrowserHub();
  try {
    const a = hub.openEndpoint('a');
    const b = hub.openEndpoint('b');
    const event = await a.openConnection('b');
    if (event.status !== 'CONNECTED') throw new Error(`openConnection: ${event.status}`);
    const pump = createPump({ total, window, send: (i) => a.send('b', pool[i & 1023]) });
    b.onMessage = () => pump.ack();
    const ms = await withTimeout(pump.start(), 60_000, 'InBrowserHub transfer');
    return total / (ms / 1000);
  } finally {
    await hub.close();
  }
}

exports.run = async ({ quick, log }) => {
  const { InBrowserHub } = loadVnf('in-browser-hub', ['InBrowserHub']);
  const total = quick ? 20_000 : 2_000_000;
  const window = 10_000;
  const reps = quick ? 1 : 3;
  // Warm both paths so the JIT has compiled them before anything is timed.
  emitterRate(total / 10);
  await hubRate(InBrowserHub, total / 10, window);
  const hub = [];
  const ee = [];
  for (let r = 0; r < reps; r++) {
    hub.push(await hubRate(InBrowserHub, total, window));
    ee.push(emitterRate(total));
    log(`rep ${r + 1}: InBrowserHub ${hub[r].toFixed(0)} msg/s, eventemitter3 ${ee[r].toFixed(0)} msg/s`);
  }
  const value = median(hub);
  const baseline = { name: 'eventemitter3', value: median(ee) };
  return {
    rows: [
      row({ scenario: 'in-browser', metric: '100 B msg rate', unit: 'msg/s', value, baseline, target: atLeast(1e6, '≥ 1 M msg/s', 'value') }),
    ],
    details: { total, window, reps, hub, eventemitter3: ee },
  };
};
