'use strict';
// The request/response layers the services scenario compares, behind one shape. Each system names the
// server file it needs (bench/servers/) and opens the two sides, each in a process of its own
// (lib/services-host.js):
//   provider(url, id, handler) → { close() }                 serves the service 'echo' with `handler(params)`
//   caller(url, id, provider)  → { call(params): Promise, close() }   calls 'echo' on `provider`
// All three route by the provider's name through a relay server and carry the same small JSON object.
const WebSocket = require('ws');
const { io } = require('socket.io-client');
const { loadVnf } = require('./vnf');
const { RecordWriter, readRecords } = require('./batched-records');
const { waitOnline } = require('./relay-systems');

/** What the callers and providers of every system are configured to wait at most, ms (PeerServices' default). */
const CALL_TIMEOUT_MS = 30_000;

const opened = (ws) =>
  new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });

/**
 * Raw `ws` through servers/raw-ws-batched.js: JSON text `{ id, params }` / `{ id, result }` (or `{ id, error }`) as
 * records of one binary frame per tick on every hop (the clients flush in a microtask, the server per
 * `setImmediate`). The caller keeps a Map of id → promise; no timeouts, no checks: the floor.
 */
const rawWsBatched = {
  name: 'raw ws batched',
  server: 'raw-ws-batched',
  /** One socket; `write(target, text)` coalesces everything of a tick into one frame. */
  async socket(url, id) {
    const ws = new WebSocket(`${url}/?id=${id}`);
    await opened(ws);
    let out = null;
    const flush = () => {
      const frame = out.finish();
      out = null;
      ws.send(frame, { binary: true });
    };
    const write = (targetBytes, text) => {
      if (!out) {
        out = new RecordWriter();
        queueMicrotask(flush);
      }
      out.write(targetBytes, text);
    };
    return { ws, write };
  },
  async provider(url, id, handler) {
    const { ws, write } = await this.socket(url, id);
    const names = new Map(); // source eva → its bytes, for the answer's record
    ws.on('message', (data) =>
      readRecords(data, (source, payload) => {
        let to = names.get(source);
        if (!to) names.set(source, (to = Buffer.from(source)));
        const request = JSON.parse(payload.toString());
        const answer = (result) => write(to, JSON.stringify({ id: request.id, result }));
        const fail = (err) => write(to, JSON.stringify({ id: request.id, error: String((err && err.message) || err) }));
        try {
          const result = handler(request.params);
          if (result && typeof result.then === 'function') result.then(answer, fail);
          else answer(result);
        } catch (err) {
          fail(err);
        }
      }),
    );
    return { close: () => ws.terminate() };
  },
  async caller(url, id, provider) {
    const { ws, write } = await this.socket(url, id);
    const target = Buffer.from(provider);
    const pending = new Map();
    let nextId = 0;
    ws.on('message', (data) =>
      readRecords(data, (_source, payload) => {
        const answer = JSON.parse(payload.toString());
        const call = pending.get(answer.id);
        if (!call) return;
        pending.delete(answer.id);
        if (answer.error !== undefined) call.reject(new Error(answer.error));
        else call.resolve(answer.result);
      }),
    );
    return {
      call: (params) =>
        new Promise((resolve, reject) => {
          const callId = ++nextId;
          pending.set(callId, { resolve, reject });
          write(target, JSON.stringify({ id: callId, params }));
        }),
      close: () => ws.terminate(),
    };
  },
};

function ioConnect(url, id) {
  const socket = io(url, { transports: ['websocket'], auth: { id }, forceNew: true, reconnection: false });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

/**
 * socket.io 4 through servers/socketio-services.js: the caller `emitWithAck('call', provider, params)` with a
 * timeout, the server forwards it to the provider's socket with its own `emitWithAck` and acknowledges with the answer.
 */
const socketIo = {
  name: 'socket.io',
  server: 'socketio-services',
  async provider(url, id, handler) {
    const socket = await ioConnect(url, id);
    // The acknowledgement carries the result alone (socket.io puts the error slot in front of it on the
    // side that set a timeout); a failure is acknowledged as { error }, the app's own convention.
    socket.on('call', (params, ack) => {
      const fail = (err) => ack({ error: String((err && err.message) || err) });
      try {
        const result = handler(params);
        if (result && typeof result.then === 'function') result.then(ack, fail);
        else ack(result);
      } catch (err) {
        fail(err);
      }
    });
    return { close: () => socket.disconnect() };
  },
  async caller(url, id, provider) {
    const socket = await ioConnect(url, id);
    return {
      call: (params) => socket.timeout(CALL_TIMEOUT_MS).emitWithAck('call', provider, params),
      close: () => socket.disconnect(),
    };
  },
};

/** PeerServices over MultiplexHub(WebSocketHub(factory)) through the broker, one hub (and socket) per side. */
const vnf = {
  name: 'PeerServices',
  server: 'broker',
  load() {
    const { PeerServices } = loadVnf('services', ['PeerServices']);
    const { MultiplexHub } = loadVnf('multiplex-hub', ['MultiplexHub']);
    const { WebSocketHub, WebSocketFactory } = loadVnf('websocket-hub', ['WebSocketHub', 'WebSocketFactory']);
    return { PeerServices, MultiplexHub, WebSocketHub, WebSocketFactory };
  },
  async open(url, id) {
    const { PeerServices, MultiplexHub, WebSocketHub, WebSocketFactory } = this.load();
    const hub = new MultiplexHub(new WebSocketHub(new WebSocketFactory(url)));
    const endpoint = hub.openEndpoint(id);
    await waitOnline(endpoint);
    const services = new PeerServices(endpoint);
    services.on('error', (err) => console.error(`PeerServices ${id}: ${err.code} ${err.message}`));
    return { hub, endpoint, services, close: async () => (await services.close(), await hub.close()) };
  },
  async provider(url, id, handler) {
    const side = await this.open(url, id);
    // The caller keeps 100 calls in flight and the baselines run every call on arrival: admit them all at
    // once (the default concurrency is 16, the rest waiting in the queue).
    side.services.provide('echo', handler, { concurrency: Number(process.env.BENCH_SERVICES_CONCURRENCY) || 128 });
    return { close: side.close };
  },
  async caller(url, id, provider) {
    const side = await this.open(url, id);
    const event = await side.endpoint.openConnection(provider);
    if (event.status !== 'CONNECTED') throw new Error(`openConnection(${provider}): ${event.status} ${event.reason}`);
    const { services } = side;
    return { call: (params) => services.call(provider, 'echo', params), close: side.close };
  },
};

module.exports = { CALL_TIMEOUT_MS, systems: [vnf, rawWsBatched, socketIo], byName: { PeerServices: vnf, 'raw ws batched': rawWsBatched, 'socket.io': socketIo } };
