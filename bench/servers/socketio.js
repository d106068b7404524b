'use strict';
// The socket.io 4 relay users would write: clients name themselves and their peer in the handshake
// `auth`, the server emits each 'm' event directly to the peer's socket (cheaper than a room lookup).
// WebSocket transport only, as the clients use; no per-message compression, like the other relays.
const http = require('http');
const { Server } = require('socket.io');

exports.start = async () => {
  const sockets = new Map();
  const httpServer = http.createServer();
  const io = new Server(httpServer, { transports: ['websocket'], perMessageDeflate: false, serveClient: false });
  io.on('connection', (socket) => {
    const { id, peer } = socket.handshake.auth;
    sockets.set(id, socket);
    socket.on('m', (msg) => {
      const to = sockets.get(peer);
      if (to) to.emit('m', msg);
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
