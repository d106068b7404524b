'use strict';
// The relays the broker is compared with, behind one small shape so a scenario measures them all
// the same way. Each system names the server file it needs (bench/servers/) and opens clients:
//   pair(url)                 → { a, b, close() }: a.send(s) arrives at b.onmessage(s) and the reverse
//   side(url, id, peer, opts) → one side alone (for sender and receiver in processes of their own):
//                               { send(s), onmessage, connected: Promise, close() }; opts.initiator
//                               opens the connection (the other side must be online first)
//   idle(url, id)             → a connected, idle client with close()
const WebSocket = require('ws');
const { io } = require('socket.io-client');
const { loadVnf } = require('./vnf');
const { RecordWriter, readRecords } = require('./batched-records');

const opened = (ws) =>
  new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });

/** A side of a pair: `send(string)` and an assignable `onmessage(string)`. */
function side(send, close) {
  return { send, close, onmessage: null };
}

const rawWs = {
  name: 'raw ws',
  server: 'raw-ws',
  async side(url, id, peer) {
    const ws = new WebSocket(`${url}/?id=${id}&peer=${peer}`);
    await opened(ws);
    const s = side((m) => ws.send(m), () => ws.terminate());
    ws.on('message', (data) => s.onmessage(data.toString()));
    s.connected = Promise.resolve();
    return s;
  },
  async pair(url) {
    const wa = new WebSocket(`${url}/?id=a&peer=b`);
    const wb = new WebSocket(`${url}/?id=b&peer=a`);
    await Promise.all([opened(wa), opened(wb)]);
    const a = side((s) => wa.send(s), () => wa.close());
    const b = side((s) => wb.send(s), () => wb.close());
    // ws hands text frames over as Buffers; decoding is part of what every relay's client does.
    wa.on('message', (data) => a.onmessage(data.toString()));
    wb.on('message', (data) => b.onmessage(data.toString()));
    return { a, b, close: () => (wa.terminate(), wb.terminate()) };
  },
  async idle(url, id) {
    const ws = new WebSocket(`${url}/?id=${id}&peer=none`);
    await opened(ws);
    return { close: () => ws.terminate() };
  },
};

/**
 * Raw `ws` batched per tick (servers/raw-ws-batched.js): what sends in one tick leaves in one binary
 * frame of records, flushed in a microtask as WebSocketHub does; the receiver splits frames into messages.
 */
const rawWsBatched = {
  name: 'raw ws batched',
  server: 'raw-ws-batched',
  async side(url, id, peer) {
    const ws = new WebSocket(`${url}/?id=${id}`);
    await opened(ws);
    const peerBytes = Buffer.from(peer);
    let out = null;
    const flush = () => {
      const frame = out.finish();
      out = null;
      ws.send(frame, { binary: true });
    };
    const s = side((m) => {
      if (!out) {
        out = new RecordWriter();
        queueMicrotask(flush);
      }
      out.write(peerBytes, m);
    }, () => ws.terminate());
    ws.on('message', (data) => readRecords(data, (_source, payload) => s.onmessage(payload.toString())));
    s.connected = Promise.resolve();
    return s;
  },
  async pair(url) {
    const b = await this.side(url, 'b', 'a');
    const a = await this.side(url, 'a', 'b');
    return { a, b, close: () => (a.close(), b.close()) };
  },
  async idle(url, id) {
    const ws = new WebSocket(`${url}/?id=${id}`);
    await opened(ws);
    return { close: () => ws.terminate() };
  },
};

function ioConnect(url, id, peer) {
  const socket = io(url, { transports: ['websocket'], auth: { id, peer }, forceNew: true, reconnection: false });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

const socketIo = {
  name: 'socket.io',
  server: 'socketio',
  async side(url, id, peer) {
    const socket = await ioConnect(url, id, peer);
    const s = side((m) => socket.emit('m', m), () => socket.disconnect());
    socket.on('m', (m) => s.onmessage(m));
    s.connected = Promise.resolve();
    return s;
  },
  async pair(url) {
    const [sa, sb] = await Promise.all([ioConnect(url, 'a', 'b'), ioConnect(url, 'b', 'a')]);
    const a = side((s) => sa.emit('m', s));
    const b = side((s) => sb.emit('m', s));
    sa.on('m', (s) => a.onmessage(s));
    sb.on('m', (s) => b.onmessage(s));
    return { a, b, close: () => (sa.disconnect(), sb.disconnect()) };
  },
  async idle(url, id) {
    const socket = await ioConnect(url, id, 'none');
    return { close: () => socket.disconnect() };
  },
};

/** WebSocketHub, one hub per side so each endpoint has its own socket, like the other relays' clients. */
const vnf = {
  name: 'WebSocketHub',
  server: 'broker',
  load() {
    return loadVnf('websocket-hub', ['WebSocketHub', 'WebSocketFactory']);
  },
  async side(url, id, peer, { initiator = false } = {}) {
    const { WebSocketHub, WebSocketFactory } = this.load();
    const hub = new WebSocketHub(new WebSocketFactory(url));
    const endpoint = hub.openEndpoint(id);
    await waitOnline(endpoint);
    const s = side((m) => endpoint.send(peer, m), () => hub.close());
    endpoint.onMessage = (e) => s.onmessage(e.message);
    if (initiator) {
      const event = await endpoint.openConnection(peer);
      if (event.status !== 'CONNECTED') throw new Error(`WebSocketHub openConnection: ${event.status} ${event.reason}`);
    }
    s.connected = endpoint.isConnected(peer) ? Promise.resolve() : new Promise((resolve) => endpoint.once('connection', resolve));
    return s;
  },
  async pair(url) {
    const { WebSocketHub, WebSocketFactory } = this.load();
    const hubA = new WebSocketHub(new WebSocketFactory(url));
    const hubB = new WebSocketHub(new WebSocketFactory(url));
    const ea = hubA.openEndpoint('a');
    const eb = hubB.openEndpoint('b');
    // b must be registered at the broker before a asks for it, or the broker answers NOT_FOUND.
    await waitOnline(eb);
    const event = await ea.openConnection('b');
    if (event.status !== 'CONNECTED') throw new Error(`WebSocketHub openConnection: ${event.status} ${event.reason}`);
    const a = side((s) => ea.send('b', s));
    const b = side((s) => eb.send('a', s));
    ea.onMessage = (e) => a.onmessage(e.message);
    eb.onMessage = (e) => b.onmessage(e.message);
    // The receiver learns of the connection asynchronously; wait for it so b.send is allowed at once.
    if (!eb.isConnected('a')) await new Promise((resolve) => eb.once('connection', resolve));
    return { a, b, close: () => Promise.all([hubA.close(), hubB.close()]) };
  },
  /** Idle endpoints share one hub: the hub is per application, its endpoints each hold a socket. */
  idleHub(url) {
    const { WebSocketHub, WebSocketFactory } = this.load();
    return new WebSocketHub(new WebSocketFactory(url));
  },
  async idle(url, id, hub) {
    const endpoint = hub.openEndpoint(id);
    await waitOnline(endpoint);
    return { close: () => endpoint.destroy() };
  },
};

/**
 * An endpoint is reachable once the broker welcomed its socket. WebSocketEndpoint exposes that as
 * `firstAttempt`/`isOnline`; without them, probe: connecting to a missing eva answers NOT_FOUND only
 * after the broker has registered this endpoint.
 */
async function waitOnline(endpoint) {
  if (endpoint.firstAttempt && typeof endpoint.firstAttempt.then === 'function') {
    await endpoint.firstAttempt;
    if (endpoint.isOnline) return;
    throw new Error(`endpoint ${endpoint.eva} did not come online`);
  }
  const event = await endpoint.openConnection(`missing-${endpoint.eva}`);
  if (event.reason !== 'NOT_FOUND') throw new Error(`endpoint ${endpoint.eva} did not come online: ${event.status} ${event.reason}`);
}

module.exports = { waitOnline, rawWs, rawWsBatched, socketIo, vnf, systems: [vnf, rawWs, socketIo], byName: { 'raw ws': rawWs, 'raw ws batched': rawWsBatched, 'socket.io': socketIo, WebSocketHub: vnf } };
