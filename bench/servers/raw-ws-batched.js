'use strict';
// The honest limit of a WebSocket relay: raw `ws` used the way a competent user would for small
// messages. Clients coalesce everything sent in one tick into one binary frame of records
// [u8 target length, target, u32 length, payload] (bench/lib/batched-records.js); this server parses
// each record's target, appends [u8 source length, source, u32 length, payload] to that destination's
// pending frame and flushes every destination once per `setImmediate`. Clients name themselves in
// the URL (?id=a). No per-socket checks, budgets or registry: the floor, not a product.
const { WebSocketServer } = require('ws');
const { RecordWriter, readRecords } = require('../lib/batched-records');

exports.start = async () => {
  const sockets = new Map(); // id → { ws, id, idBytes, out: RecordWriter | null }
  const dirty = [];
  let flushScheduled = false;
  const flush = () => {
    flushScheduled = false;
    for (const peer of dirty.splice(0)) {
      const frame = peer.out.finish();
      peer.out = null;
      if (peer.ws.readyState === 1) peer.ws.send(frame, { binary: true });
    }
  };
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  wss.on('connection', (ws, req) => {
    const id = new URL(req.url, 'http://relay').searchParams.get('id');
    const self = { ws, id, idBytes: Buffer.from(id), out: null };
    sockets.set(id, self);
    ws.on('message', (data) => {
      readRecords(data, (target, payload) => {
        const to = sockets.get(target);
        if (!to) return;
        if (!to.out) {
          to.out = new RecordWriter();
          dirty.push(to);
        }
        to.out.write(self.idBytes, payload);
      });
      if (!flushScheduled && dirty.length) {
        flushScheduled = true;
        setImmediate(flush);
      }
    });
    ws.on('close', () => sockets.get(id) === self && sockets.delete(id));
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
