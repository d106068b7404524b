'use strict';
// The baseline relay: the least a WebSocket relay can be. Each client names itself and its peer in
// the URL (?id=a&peer=b); every message is forwarded, one send per message, to the peer's socket.
const { WebSocketServer } = require('ws');

exports.start = async () => {
  const sockets = new Map();
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  wss.on('connection', (ws, req) => {
    const query = new URL(req.url, 'http://relay').searchParams;
    const id = query.get('id');
    const peer = query.get('peer');
    sockets.set(id, ws);
    ws.on('message', (data, isBinary) => {
      const to = sockets.get(peer);
      if (to) to.send(data, { binary: isBinary });
    });
    ws.on('close', () => sockets.get(id) === ws && sockets.delete(id));
  });
  await new Promise((resolve) => wss.once('listening', resolve));
  return {
    url: `ws://127.0.0.1:${wss.address().port}`,
    info: () => ({ sockets: sockets.size }),
    close: () => new Promise((resolve) => {
      for (const ws of wss.clients) ws.terminate();
      wss.close(resolve);
    }),
  };
};
