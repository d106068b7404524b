'use strict';
// The fan-out systems the fanout scenarios compare, behind one shape (each side in a process of its own,
// lib/fanout-host.js). Each system names its server (bench/servers/) and opens:
//   sender(url, members) → { broadcast(s), buffered(), netSocket(), onack(from, text), close() }
//       broadcast sends one string to every member; buffered() is what the sender holds and has not handed
//       to the kernel, bytes; netSocket() is the sender's TCP socket (its bytesWritten is the uplink)
//   members(url, evas, onMessage(i, s)) → { ack(i, text), pause(i), resume(i), cutOff(), connected(), close() }
//       many members in one process; member i's messages reach onMessage(i, s); ack(i, text) sends text from
//       member i to the sender; pause(i) stops reading member i's socket (its TCP window fills), resume(i) reads
//       on; cutOff() counts the members whose connection the relay ended
// Every sender and member socket is a `ws` WebSocket (VNF through isomorphic-ws, socket.io-client through
// engine.io-client), so bytes and pausing are measured the same way for all three.
const WebSocket = require('ws');
const { io } = require('socket.io-client');
const { loadVnf } = require('./vnf');
const { RecordWriter, readRecords } = require('./batched-records');
const { waitOnline } = require('./relay-systems');

const SENDER = 'sender';
const ROOM = 'room';

const opened = (ws) =>
  new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });

/** Raw `ws` through servers/raw-ws-fanout.js: records to the room, batched per tick (flushed in a microtask). */
const rawWsBatched = {
  name: 'raw ws batched',
  server: 'raw-ws-fanout',
  async sender(url) {
    const ws = new WebSocket(`${url}/?id=${SENDER}`);
    await opened(ws);
    const room = Buffer.from(ROOM);
    let out = null;
    const flush = () => {
      const frame = out.finish();
      out = null;
      ws.send(frame, { binary: true });
    };
    const s = {
      broadcast(m) {
        if (!out) {
          out = new RecordWriter();
          queueMicrotask(flush);
        }
        out.write(room, m);
      },
      buffered: () => (out ? out.length : 0) + ws.bufferedAmount,
      netSocket: () => ws._socket,
      onack: null,
      close: () => ws.terminate(),
    };
    ws.on('message', (data) => readRecords(data, (source, payload) => s.onack(source, payload.toString())));
    return s;
  },
  async members(url, evas, onMessage) {
    const sockets = await Promise.all(
      evas.map(async (eva, i) => {
        const ws = new WebSocket(`${url}/?id=${eva}&room=${ROOM}`);
        await opened(ws);
        ws.on('message', (data) => readRecords(data, (_source, payload) => onMessage(i, payload.toString())));
        return ws;
      }),
    );
    const sender = Buffer.from(SENDER);
    return {
      ack(i, text) {
        const w = new RecordWriter(64);
        w.write(sender, text);
        sockets[i].send(w.finish(), { binary: true });
      },
      pause: (i) => sockets[i].pause(),
      resume: (i) => sockets[i].resume(),
      cutOff: () => sockets.filter((ws) => ws.readyState !== 1).length,
      connected: async () => {},
      close: () => sockets.forEach((ws) => ws.terminate()),
    };
  },
};

function ioConnect(url, auth) {
  const socket = io(url, { transports: ['websocket'], auth, forceNew: true, reconnection: false });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

/** socket.io 4 through servers/socketio-fanout.js: the sender emits 'b', the server `socket.to(room).emit`s it. */
const socketIo = {
  name: 'socket.io',
  server: 'socketio-fanout',
  async sender(url, _members, { size = 100 } = {}) {
    const socket = await ioConnect(url, { id: SENDER });
    const engine = socket.io.engine;
    const ws = () => engine.transport.ws;
    const s = {
      broadcast: (m) => socket.emit('b', m),
      // Packets wait in engine.io's writeBuffer while its transport is writing (until the next tick); each is
      // about the message and a dozen bytes of framing.
      buffered: () => engine.writeBuffer.length * (size + 12) + ws().bufferedAmount,
      netSocket: () => ws()._socket,
      onack: null,
      close: () => socket.disconnect(),
    };
    socket.on('ack', (from, text) => s.onack(from, text));
    return s;
  },
  async members(url, evas, onMessage) {
    const sockets = await Promise.all(
      evas.map(async (eva, i) => {
        const socket = await ioConnect(url, { id: eva, room: ROOM });
        socket.on('m', (m) => onMessage(i, m));
        return socket;
      }),
    );
    return {
      ack: (i, text) => sockets[i].emit('ack', text),
      pause: (i) => sockets[i].io.engine.transport.ws.pause(),
      resume: (i) => sockets[i].io.engine.transport.ws.resume(),
      cutOff: () => sockets.filter((socket) => !socket.connected).length,
      connected: async () => {},
      close: () => sockets.forEach((s) => s.disconnect()),
    };
  },
};

/**
 * A WebSocketFactory that remembers the socket it created for each eva (set `tag` before `openEndpoint`: the
 * endpoint creates its first socket synchronously), so the bench can read its bytes and pause it.
 */
function recordingFactory(WebSocketFactory, url) {
  class RecordingFactory extends WebSocketFactory {
    constructor() {
      super(url);
      this.tag = null;
      this.sockets = new Map();
    }

    create() {
      const socket = super.create();
      if (this.tag !== null && !this.sockets.has(this.tag)) this.sockets.set(this.tag, socket);
      return socket;
    }
  }
  return new RecordingFactory();
}

/**
 * WebSocketHub through the broker: the sender endpoint opens a connection to every member and calls
 * `endpoint.multicast(members, message)`; members are endpoints of one WebSocketHub per process, each with its own socket.
 */
const vnf = {
  name: 'WebSocketHub',
  server: 'broker',
  load() {
    return loadVnf('websocket-hub', ['WebSocketHub', 'WebSocketFactory']);
  },
  async sender(url, members) {
    const { WebSocketHub, WebSocketFactory } = this.load();
    const factory = recordingFactory(WebSocketFactory, url);
    const hub = new WebSocketHub(factory);
    factory.tag = SENDER;
    const endpoint = hub.openEndpoint(SENDER);
    factory.tag = null;
    if (typeof endpoint.multicast !== 'function') {
      await hub.close();
      const err = new Error('WebSocketHub endpoints have no multicast');
      err.notAvailable = true;
      throw err;
    }
    await waitOnline(endpoint);
    const events = await Promise.all(members.map((m) => endpoint.openConnection(m)));
    const failed = events.find((e) => e.status !== 'CONNECTED');
    if (failed) throw new Error(`WebSocketHub openConnection ${failed.targetEva}: ${failed.status} ${failed.reason}`);
    const first = members[0];
    const s = {
      broadcast: (m) => endpoint.multicast(members, m),
      buffered: () => endpoint.bufferedAmount(first),
      netSocket: () => factory.sockets.get(SENDER)._socket,
      onack: null,
      close: () => hub.close(),
    };
    endpoint.onMessage = (e) => s.onack(e.sourceEva, e.message);
    return s;
  },
  async members(url, evas, onMessage) {
    const { WebSocketHub, WebSocketFactory } = this.load();
    const factory = recordingFactory(WebSocketFactory, url);
    const hub = new WebSocketHub(factory);
    const endpoints = evas.map((eva, i) => {
      factory.tag = eva;
      const endpoint = hub.openEndpoint(eva);
      endpoint.onMessage = (e) => onMessage(i, e.message);
      return endpoint;
    });
    factory.tag = null;
    // Listen before the sender connects: the connection event comes once.
    const connected = endpoints.map((endpoint) => new Promise((resolve) => endpoint.once('connection', resolve)));
    await Promise.all(endpoints.map(waitOnline));
    let cutOff = 0;
    for (const endpoint of endpoints) endpoint.onConnectionLost(() => cutOff++);
    return {
      ack: (i, text) => endpoints[i].send(SENDER, text),
      pause: (i) => factory.sockets.get(evas[i]).pause(),
      resume: (i) => factory.sockets.get(evas[i]).resume(),
      /** Members whose connection to the sender was lost (the broker closes a slow consumer's socket). */
      cutOff: () => cutOff,
      connected: () => Promise.all(connected),
      close: () => hub.close(),
    };
  },
};

/**
 * `room.broadcast` (@vnf/rooms) through the broker, an optional row: every member and the sender join Room 'bench'
 * over MultiplexHub(WebSocketHub), its registry client on the endpoint's own socket (as packages/rooms/test/support
 * does). Members join first; the sender joins last, and is ready once it has seen every member and is connected to
 * each (members open the connection: the room links a pair from the smaller eva). Acks are `room.send(sender, …)`.
 */
const ROOM_NAME = 'bench';
const room = {
  name: 'Room',
  server: 'broker',
  load() {
    return {
      ...vnf.load(),
      ...loadVnf('multiplex-hub', ['MultiplexHub']),
      ...loadVnf('registry', ['WebSocketRegistryClient']),
      ...loadVnf('rooms', ['Room']),
    };
  },
  /** Opens and joins a member of the room per eva; returns them with the hub and the factory (which knows each socket). */
  async join(url, evas, onMessage) {
    const { WebSocketHub, WebSocketFactory, MultiplexHub, WebSocketRegistryClient, Room, wrap = (inner) => inner } = this.load();
    const factory = recordingFactory(WebSocketFactory, url);
    const webSocketHub = new WebSocketHub(factory);
    const hub = new MultiplexHub(wrap(webSocketHub));
    const rooms = evas.map((eva, i) => {
      factory.tag = eva;
      // The MultiplexHub's endpoint first: it opens the WebSocketEndpoint beneath shared, and the registry rides its socket.
      const endpoint = hub.openEndpoint(eva);
      factory.tag = null;
      const inner = webSocketHub.openEndpoint(eva);
      const registry = new WebSocketRegistryClient(inner.getWebSocketRpc());
      const r = new Room(endpoint, { registry, name: ROOM_NAME });
      r.onMessage = (e) => onMessage(i, e.message, e);
      return { room: r, endpoint, inner, registry };
    });
    await Promise.all(rooms.map(({ inner }) => waitOnline(inner)));
    await Promise.all(rooms.map(({ room: r }) => r.join()));
    const close = async () => {
      for (const { room: r, registry } of rooms) {
        await r.leave().catch(() => undefined);
        await registry.close().catch(() => undefined);
      }
      await hub.close();
    };
    return { rooms, factory, close };
  },
  async sender(url, members, { openMs = 30_000 } = {}) {
    let s = null;
    const { rooms, factory, close } = await this.join(url, [SENDER], (_i, message, e) => e.direct && s.onack(e.sourceEva, message));
    const { room: r, endpoint } = rooms[0];
    // Before the host's own timeout of openMs, so that what was missing is said.
    const deadline = Date.now() + openMs * 0.9;
    while (!members.every((m) => r.members.has(m) && endpoint.isConnected(m))) {
      if (Date.now() > deadline) {
        await close();
        throw new Error(`Room: the sender saw ${r.members.size - 1} of ${members.length} members, connected to ${endpoint.connections().length}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    s = {
      broadcast: (m) => r.broadcast(m),
      buffered: () => endpoint.bufferedAmount(members[0]),
      netSocket: () => factory.sockets.get(SENDER)._socket,
      onack: null,
      close,
    };
    return s;
  },
  async members(url, evas, onMessage) {
    const { rooms, factory, close } = await this.join(url, evas, (i, message, e) => !e.direct && onMessage(i, message));
    let cutOff = 0;
    for (const { endpoint } of rooms) endpoint.onConnectionLost((peer) => peer === SENDER && cutOff++);
    return {
      ack: (i, text) => rooms[i].room.send(SENDER, text),
      pause: (i) => factory.sockets.get(evas[i]).pause(),
      resume: (i) => factory.sockets.get(evas[i]).resume(),
      cutOff: () => cutOff,
      // The sender joins after the members, and waits until it is connected to each.
      connected: async () => {},
      close,
    };
  },
};

/**
 * `room.broadcast` encrypted end to end: the same Room over MultiplexHub(SecureHub(WebSocketHub)), one identity per
 * process (a SecureHub per process, as one user per device would have). A broadcast is one signed ciphertext under
 * the sender's key for the members (SecureHub's sender keys), which the broker fans out.
 */
const secureRoom = {
  ...room,
  name: 'Room (SecureHub)',
  load() {
    return { ...room.load(), ...loadVnf('secure-hub', ['SecureHub', 'Identity']) };
  },
  async join(url, evas, onMessage) {
    const { SecureHub, Identity } = this.load();
    return room.join.call({ load: () => ({ ...this.load(), wrap: (inner) => new SecureHub(inner, { identity: Identity.generate() }) }) }, url, evas, onMessage);
  },
};

module.exports = {
  SENDER,
  systems: [vnf, rawWsBatched, socketIo, room, secureRoom],
  byName: { WebSocketHub: vnf, 'raw ws batched': rawWsBatched, 'socket.io': socketIo, Room: room, 'Room (SecureHub)': secureRoom },
};
