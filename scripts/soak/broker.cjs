'use strict';
// The broker under test, in a process of its own (its CPU and memory are measured apart from the clients').
const { child } = require('./child.cjs');
const { Broker } = require('@vnf/broker');

child('broker', async (options, report) => {
  const broker = new Broker(options);
  const address = await broker.listen({ port: 0, host: '127.0.0.1' });
  const timer = setInterval(() => {
    const m = process.memoryUsage();
    report({ what: 'memory', rss: m.rss, heapUsed: m.heapUsed, maxRss: process.resourceUsage().maxRSS * 1024, connections: broker.connectionCount });
  }, 250);
  report({ what: 'address', url: address.url, port: address.port });
  return async () => {
    clearInterval(timer);
    await broker.close();
    return { maxRss: process.resourceUsage().maxRSS * 1024 };
  };
});
