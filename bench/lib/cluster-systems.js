'use strict';
// The systems of the cluster scenario, behind one shape: `start(redis, tag)` starts the system's servers
// (each in a process of its own, lib/server.js) and resolves with { urls: [a, b], servers: { name: server } }:
// the sender connects to urls[0], the receiver to urls[1]. `client` names the client side of
// lib/relay-systems.js both use (the same clients as in relay: only the servers differ).
//   one broker       servers/broker.js, both sides on it (no Redis): the baseline of the cluster
//   VNF cluster      two brokers of one cluster on Redis (servers/broker-cluster.js), a on A, b on B
//   socket.io-redis  two socket.io nodes on one Redis (servers/socketio-redis.js), a on A, b on B
// `tag` keeps the Redis keys (or channels) of every start apart, so fresh servers never meet old state.
const { startServer } = require('./server');
const { byName } = require('./relay-systems');

const oneBroker = {
  name: 'one broker',
  client: 'WebSocketHub',
  async start() {
    const broker = await startServer('broker');
    return { urls: [broker.url, broker.url], servers: { broker } };
  },
};

/** Starts `count` servers of `file`; closes those that started if one fails. */
async function startAll(file, options) {
  const started = await Promise.allSettled(options.map((o) => startServer(file, o)));
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) {
    await Promise.all(started.filter((s) => s.status === 'fulfilled').map((s) => s.value.close()));
    throw failed.reason;
  }
  return started.map((s) => s.value);
}

const vnfCluster = {
  name: 'VNF cluster',
  client: 'WebSocketHub',
  async start(redis, tag) {
    const keyPrefix = `bench:${tag}:`;
    const [a, b] = await startAll('broker-cluster', [{ redis: redis.url, keyPrefix }, { redis: redis.url, keyPrefix }]);
    return { urls: [a.url, b.url], servers: { 'broker A': a, 'broker B': b }, keyPrefix };
  },
};

const socketIoRedis = {
  name: 'socket.io-redis',
  client: 'socket.io',
  async start(redis, tag) {
    const key = `sio-${tag}`;
    const [a, b] = await startAll('socketio-redis', [{ redis: redis.url, key }, { redis: redis.url, key }]);
    return { urls: [a.url, b.url], servers: { 'server A': a, 'server B': b } };
  },
};

/** Both sides in this process: a on urls[0], b on urls[1]; a.send(s) arrives at b.onmessage(s) and back. */
async function pair(system, urls) {
  const client = byName[system.client];
  const b = await client.side(urls[1], 'b', 'a');
  let a;
  try {
    a = await client.side(urls[0], 'a', 'b', { initiator: true });
    await b.connected;
  } catch (err) {
    await b.close();
    if (a) await a.close();
    throw err;
  }
  return { a, b, close: () => Promise.all([a.close(), b.close()]) };
}

module.exports = { systems: [oneBroker, vnfCluster, socketIoRedis], pair };
