'use strict';
// The honest limit of a fan-out relay: raw `ws` used the way a competent user would for small messages to a
// room. Clients name themselves in the URL (?id=a) and members name their room (?id=m1&room=room). Clients
// coalesce everything sent in one tick into one binary frame of records [u8 target length, target, u32 length,
// payload] (bench/lib/batched-records.js), as in servers/raw-ws-batched.js. A record whose target is a room is
// appended as [source, length, payload] to that room's one pending frame; any other record to its target's
// pending frame. Once per `setImmediate` every pending frame is sent: a room's frame, the same Buffer, to each
// of its members (ws's broadcast, one `send` per member). No checks, budgets or registry: the floor, not a product.
// A member that stops reading is not detected: its frames pile up in this process (info() reports how much).
const { WebSocketServer } = require('ws');
const { RecordWriter, readRecords } = require('../lib/batched-records');

exports.start = async () => {
  const sockets = new Map(); // id → { ws, id, idBytes, out: RecordWriter | null }
  const rooms = new Map(); // name → { members: Set<ws>, out: RecordWriter | null }
  const dirty = [];
  const dirtyRooms = [];
  let flushScheduled = false;
  const flush = () => {
    flushScheduled = false;
    for (const room of dirtyRooms.splice(0)) {
      const frame = room.out.finish();
      room.out = null;
      for (const ws of room.members) if (ws.readyState === 1) ws.send(frame, { binary: true });
    }
    for (const peer of dirty.splice(0)) {
      const frame = peer.out.finish();
      peer.out = null;
      if (peer.ws.readyState === 1) peer.ws.send(frame, { binary: true });
    }
  };
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  wss.on('connection', (ws, req) => {
    const query = new URL(req.url, 'http://relay').searchParams;
    const id = query.get('id');
    const roomName = query.get('room');
    const self = { ws, id, idBytes: Buffer.from(id), out: null };
    sockets.set(id, self);
    if (roomName) {
      if (!rooms.has(roomName)) rooms.set(roomName, { members: new Set(), out: null });
      rooms.get(roomName).members.add(ws);
    }
    ws.on('message', (data) => {
      readRecords(data, (target, payload) => {
        const room = rooms.get(target);
        if (room) {
          if (!room.out) {
            room.out = new RecordWriter();
            dirtyRooms.push(room);
          }
          room.out.write(self.idBytes, payload);
          return;
        }
        const to = sockets.get(target);
        if (!to) return;
        if (!to.out) {
          to.out = new RecordWriter();
          dirty.push(to);
        }
        to.out.write(self.idBytes, payload);
      });
      if (!flushScheduled && (dirty.length || dirtyRooms.length)) {
        flushScheduled = true;
        setImmediate(flush);
      }
    });
    ws.on('close', () => {
      if (sockets.get(id) === self) sockets.delete(id);
      if (roomName && rooms.has(roomName)) rooms.get(roomName).members.delete(ws);
    });
  });
  await new Promise((resolve) => wss.once('listening', resolve));
  return {
    url: `ws://127.0.0.1:${wss.address().port}`,
    info: () => ({ sockets: sockets.size, maxBufferedAmount: Math.max(0, ...[...wss.clients].map((ws) => ws.bufferedAmount)) }),
    close: () => new Promise((resolve) => {
      for (const ws of wss.clients) ws.terminate();
      wss.close(resolve);
    }),
  };
};
