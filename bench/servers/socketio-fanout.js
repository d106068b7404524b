'use strict';
// The socket.io 4 fan-out users would write: clients name themselves in the handshake `auth`, members also their
// room (`auth.room`), which the server joins them to. The sender emits 'b'; the server does
// `socket.to(room).emit('m', msg)` (socket.io encodes the packet once and writes it to every member). A member
// answers 'ack', which the server forwards to the sender's socket. WebSocket transport only, no per-message
// compression, the default parser (as in servers/socketio.js).
const http = require('http');
const { Server } = require('socket.io');

const ROOM = 'room';

exports.start = async () => {
  const sockets = new Map();
  const httpServer = http.createServer();
  const io = new Server(httpServer, { transports: ['websocket'], perMessageDeflate: false, serveClient: false });
  io.on('connection', (socket) => {
    const { id, room } = socket.handshake.auth;
    sockets.set(id, socket);
    if (room) socket.join(room);
    socket.on('b', (msg) => socket.to(ROOM).emit('m', msg));
    socket.on('ack', (n) => {
      const to = sockets.get('sender');
      if (to) to.emit('ack', id, n);
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
