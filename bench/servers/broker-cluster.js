'use strict';
// A broker of a cluster on Redis (the `redis` option: router, bus and registry store on one Redis), on
// 127.0.0.1 and a free port, with the four limits of servers/broker.js lifted for the same reasons (every
// bench client comes from one address; the raw relays have no flood limit). Everything else is the
// broker's default. Options (from lib/server.js): { redis: 'redis://127.0.0.1:PORT', keyPrefix }.
const { loadVnf } = require('../lib/vnf');

exports.start = async ({ redis, keyPrefix = 'bench:' } = {}) => {
  if (!redis) throw new Error('broker-cluster: no redis URL given');
  const { Broker } = loadVnf('broker', ['Broker']);
  const broker = new Broker({
    maxMessagesPerSecond: 1e9,
    maxConnections: 0,
    maxConnectionsPerAddress: 0,
    clientKey: (request) => `${request.socket.remoteAddress}:${request.socket.remotePort}`,
    redis: { url: redis, keyPrefix },
  });
  const address = await broker.listen({ port: 0, host: '127.0.0.1' });
  return {
    url: address.url,
    close: () => broker.close(),
  };
};
