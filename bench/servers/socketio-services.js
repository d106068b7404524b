'use strict';
// The socket.io 4 relay of calls a user would write: clients name themselves in the handshake `auth`; a
// caller's `emitWithAck('call', provider, params)` is forwarded to the provider's socket with the server's
// own `emitWithAck` (with a timeout, so a vanished provider cannot hold the caller's ack forever) and
// acknowledged with the provider's answer. WebSocket transport only, no per-message compression, as in
// servers/socketio.js.
const http = require('http');
const { Server } = require('socket.io');

const CALL_TIMEOUT_MS = 30_000;

exports.start = async () => {
  const sockets = new Map();
  const httpServer = http.createServer();
  const io = new Server(httpServer, { transports: ['websocket'], perMessageDeflate: false, serveClient: false });
  io.on('connection', (socket) => {
    const { id } = socket.handshake.auth;
    sockets.set(id, socket);
    socket.on('call', async (provider, params, ack) => {
      const to = sockets.get(provider);
      if (!to) return ack({ error: 'NOT_FOUND' });
      try {
        ack(await to.timeout(CALL_TIMEOUT_MS).emitWithAck('call', params));
      } catch {
        ack({ error: 'TIMEOUT' });
      }
    });
    socket.on('disconnect', () => sockets.get(id) === socket && sockets.delete(id));
  });
  await new Promise((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${httpServer.address().port}`,
    info: () => ({ sockets: sockets.size }),
    close: () => new Promise((resolve) => {
      io.disconnectSockets(true);
      io.close(() => resolve());
    }),
  };
};
