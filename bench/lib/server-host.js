'use strict';
// Runs one server file in its own process (forked by lib/server.js) and answers the bench over IPC:
// the server's memory after a full GC, and its peak RSS. The server file exports
// `async start() → { url, close() }`.
require('./register');
const { settle } = require('./measure');
const heapSampling = require('./heap-sampling');

const file = process.argv[2];
let server;
let peakRss = 0;
/**
 * Peak RSS sampling, from the first `resetPeak` on (the scenarios that report a server's peak ask for it): a
 * sampler running all the time would be part of what idle-cpu measures.
 */
let sampler = null;
const samplePeak = () => {
  const rss = process.memoryUsage.rss();
  if (rss > peakRss) peakRss = rss;
};

async function main() {
  try {
    server = await require(file).start(JSON.parse(process.argv[3] || '{}'));
    process.send({ type: 'ready', url: server.url });
  } catch (err) {
    process.send({ type: 'failed', error: String(err && err.stack || err), notAvailable: Boolean(err && err.notAvailable) });
    process.exit(1);
  }
}

process.on('message', async (msg) => {
  if (msg.type === 'stats') {
    await settle();
    const m = process.memoryUsage();
    process.send({ type: 'stats', id: msg.id, memory: m, peakRss: Math.max(peakRss, m.rss), info: server.info ? server.info() : undefined });
  } else if (msg.type === 'heapSnapshot') {
    await settle();
    process.send({ type: 'heapSnapshot', id: msg.id, file: require('v8').writeHeapSnapshot(msg.file) });
  } else if (msg.type === 'cpu') {
    process.send({ type: 'cpu', id: msg.id, cpu: process.cpuUsage() });
  } else if (msg.type === 'sampleStart') {
    await heapSampling.start();
    process.send({ type: 'sampleStart', id: msg.id });
  } else if (msg.type === 'sampleStop') {
    process.send({ type: 'sampleStop', id: msg.id, bytes: await heapSampling.stop() });
  } else if (msg.type === 'resetPeak') {
    peakRss = 0;
    sampler ??= setInterval(samplePeak, 20);
    process.send({ type: 'resetPeak', id: msg.id });
  } else if (msg.type === 'close') {
    if (sampler) clearInterval(sampler);
    try {
      await server.close();
    } finally {
      process.exit(0);
    }
  }
});
// The bench went away: do not linger.
process.on('disconnect', () => process.exit(0));

main();
