'use strict';
// One side of a relay in a process of its own (forked by lib/client.js), so sender, receiver and
// server each have their own event loop and CPU, as in a real deployment. Answers the bench over IPC:
//   open { system, url, eva, peer, initiator }  opens the side (lib/relay-systems.js)
//   connected                                  resolves once the peer's connection is known here
//   receive { ackEvery }                       counts arrivals, sends "ack" to the peer every ackEvery
//   send { total, window, ackEvery, size }     sends total messages of size B, at most window
//                                              unacknowledged; answers with the elapsed ms
//   idle { system, url, from, count }          opens `count` idle clients (evas idle-<from>…) and holds them
//   cpu / sampleStart / sampleStop / close
require('./register');
const { byName } = require('./relay-systems');
const { createPump, messagePool } = require('./measure');
const heapSampling = require('./heap-sampling');

let side = null;
const idleClients = [];
let idleHub = null;

const handlers = {
  async open({ system, url, eva, peer, initiator }) {
    side = await byName[system].side(url, eva, peer, { initiator });
    side.onmessage = () => {};
  },
  async connected() {
    await side.connected;
  },
  async receive({ ackEvery }) {
    let count = 0;
    side.onmessage = () => {
      if (++count === ackEvery) {
        count = 0;
        side.send('ack');
      }
    };
  },
  async send({ total, window, ackEvery, size }) {
    const pool = messagePool(size);
    const pump = createPump({ total, window, send: (i) => side.send(pool[i & 1023]) });
    side.onmessage = () => pump.ack(ackEvery);
    return { ms: await pump.start() };
  },
  async idle({ system, url, from, count }) {
    const sys = byName[system];
    idleHub = sys.idleHub ? sys.idleHub(url) : undefined;
    for (let i = from; i < from + count; i += 250) {
      const batch = [];
      for (let j = i; j < Math.min(from + count, i + 250); j++) batch.push(sys.idle(url, `idle-${j}`, idleHub));
      idleClients.push(...(await Promise.all(batch)));
    }
    return { opened: idleClients.length };
  },
  async cpu() {
    return { cpu: process.cpuUsage() };
  },
  async sampleStart() {
    await heapSampling.start();
  },
  async sampleStop() {
    return { bytes: await heapSampling.stop() };
  },
  async close() {
    if (side) await side.close();
    if (idleHub) await idleHub.close();
    else for (const c of idleClients) c.close();
    setImmediate(() => process.exit(0));
  },
};

process.on('message', async (msg) => {
  try {
    const result = await handlers[msg.type](msg);
    process.send({ ...result, id: msg.id, ok: true });
  } catch (err) {
    process.send({ id: msg.id, ok: false, error: String((err && err.stack) || err) });
  }
});
process.on('disconnect', () => process.exit(0));
process.send({ type: 'ready' });
