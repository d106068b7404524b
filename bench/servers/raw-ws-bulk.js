'use strict';
// The raw `ws` relay for bulk transfers (the streams scenario): servers/raw-ws.js plus the backpressure a
// competent relay for large transfers has, as the VNF broker has. Each client names itself and its peer in the
// URL (?id=a&peer=b); every message is forwarded, one send per message, to the peer's socket. While more than HIGH
// bytes sent to the peer's socket have not been taken by it (send callbacks), the sender's socket is not read
// (ws.pause()) until half of them were, so a slow receiver holds the relay's memory to about HIGH per direction.
const { WebSocketServer } = require('ws');

const HIGH = 1024 * 1024;

exports.start = async () => {
  const sockets = new Map();
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, maxPayload: 16 * 1024 * 1024 });
  wss.on('connection', (ws, req) => {
    const query = new URL(req.url, 'http://relay').searchParams;
    const id = query.get('id');
    const peer = query.get('peer');
    sockets.set(id, ws);
    ws.unsent = 0;
    ws.on('message', (data, isBinary) => {
      const to = sockets.get(peer);
      if (!to) return;
      to.unsent += data.length;
      to.send(data, { binary: isBinary }, () => {
        to.unsent -= data.length;
        if (to.unsent <= HIGH / 2 && ws.isPaused) ws.resume();
      });
      if (to.unsent > HIGH && !ws.isPaused) ws.pause();
    });
    ws.on('close', () => sockets.get(id) === ws && sockets.delete(id));
  });
  await new Promise((resolve) => wss.once('listening', resolve));
  return {
    url: `ws://127.0.0.1:${wss.address().port}`,
    info: () => ({ sockets: sockets.size }),
    close: () =>
      new Promise((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        wss.close(resolve);
      }),
  };
};
