'use strict';
// One node of a socket.io 4 cluster on Redis (@socket.io/redis-adapter 8, its default msgpack parser), as
// a user of socket.io scales out: every node on the same Redis, a socket joins a room named after its
// user (the `id` of the handshake `auth`), and the server relays each 'm' event with
// `io.to(peer).emit('m', msg)`: the adapter publishes it on Redis (the room's own channel) and the node
// holding the peer emits it to the peer's socket. The publishing connection pipelines what one tick
// publishes into one write (ioredis `enableAutoPipelining`: the batching socket.io's Redis path allows).
// WebSocket transport only, no per-message compression, like servers/socketio.js.
// Options (from lib/server.js): { redis: 'redis://127.0.0.1:PORT', key }.
const http = require('http');
const { Server } = require('socket.io');
const { createAdapter } = require('@socket.io/redis-adapter');
const { default: Redis } = require('ioredis');

exports.start = async ({ redis, key = 'socket.io', autoPipelining = process.env.BENCH_SIO_AUTOPIPELINING !== '0' } = {}) => {
  if (!redis) throw new Error('socketio-redis: no redis URL given');
  const pubClient = new Redis(redis, { enableAutoPipelining: autoPipelining, connectionName: 'sio-pub' });
  const subClient = new Redis(redis, { connectionName: 'sio-sub' });
  await Promise.all([pubClient, subClient].map((c) => new Promise((resolve, reject) => (c.status === 'ready' ? resolve() : (c.once('ready', resolve), c.once('error', reject))))));
  const httpServer = http.createServer();
  const io = new Server(httpServer, { transports: ['websocket'], perMessageDeflate: false, serveClient: false, adapter: createAdapter(pubClient, subClient, { key }) });
  // The adapter subscribes as it is made; a PING on the subscriber is answered after the subscriptions,
  // so nothing published after this can miss this node.
  await subClient.ping();
  let sockets = 0;
  io.on('connection', (socket) => {
    const { id, peer } = socket.handshake.auth;
    sockets++;
    socket.join(id);
    socket.on('m', (msg) => io.to(peer).emit('m', msg));
    socket.on('disconnect', () => sockets--);
  });
  await new Promise((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${httpServer.address().port}`,
    info: () => ({ sockets }),
    close: () =>
      new Promise((resolve) => {
        io.disconnectSockets(true);
        io.close(() => resolve());
      }).then(() => Promise.all([pubClient.quit().catch(() => {}), subClient.quit().catch(() => {})])),
  };
};
