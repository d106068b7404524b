import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { WebSocketFactory, WebSocketHub, type VnfSocket, type WebSocketFactoryOptions, type WebSocketEndpoint } from '../src';
import { FrameWriter, RecordKind, readRecords } from '@vnf/protocol';
import { FAST_RECONNECT, nextEvent, startBroker, until, type RunningBroker } from './brokerFixture';

/**
 * A TCP relay between the clients and the broker. `freeze()` stops every relayed connection open now in both
 * directions without closing it, as a dropped NAT mapping or a sleeping laptop would; later connections pass.
 */
class FreezableProxy {
  /** Every relayed connection, kept until close(): frozen ones stay open on purpose. */
  private readonly pairs: [Socket, Socket][] = [];
  /** Connections not frozen yet. */
  private live: [Socket, Socket][] = [];
  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(brokerPort: number, path: string): Promise<FreezableProxy> {
    let proxy!: FreezableProxy;
    const server = createServer((client) => {
      const upstream = connect(brokerPort, '127.0.0.1');
      for (const socket of [client, upstream]) socket.on('error', () => undefined);
      client.pipe(upstream);
      upstream.pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
      proxy.pairs.push([client, upstream]);
      proxy.live.push([client, upstream]);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    proxy = new FreezableProxy(server, `ws://127.0.0.1:${port}${path}`);
    return proxy;
  }

  freeze(): void {
    const live = this.live;
    this.live = [];
    for (const [client, upstream] of live) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
    }
  }

  async close(): Promise<void> {
    for (const pair of this.pairs) for (const socket of pair) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A factory that counts the pings its sockets send (they travel as control records in binary frames). */
class CountingFactory extends WebSocketFactory {
  pings = 0;
  override create(): VnfSocket {
    const socket = super.create();
    const send = socket.send.bind(socket);
    socket.send = (data) => {
      if (typeof data !== 'string' && Buffer.from(data).includes('{"t":"ping"}')) this.pings++;
      send(data);
    };
    return socket;
  }
}

let running: RunningBroker;
let proxy: FreezableProxy;
const hubs: WebSocketHub[] = [];
beforeEach(async () => {
  running = await startBroker();
  proxy = await FreezableProxy.start(running.port, new URL(running.url).pathname);
});
afterEach(async () => {
  await Promise.all(hubs.splice(0).map((hub) => hub.close()));
  await proxy.close();
  await running.close();
});

function hub(factory: WebSocketFactory): WebSocketHub {
  const created = new WebSocketHub(factory);
  hubs.push(created);
  return created;
}

function counting(url: string, options: WebSocketFactoryOptions): CountingFactory {
  return new CountingFactory(url, { reconnect: FAST_RECONNECT, ...options });
}

function messageAt(endpoint: WebSocketEndpoint): Promise<string> {
  return new Promise((resolve) => {
    endpoint.onMessage = (event) => resolve(String(event.message));
  });
}

describe('WebSocketHub heartbeat', () => {
  it('invalid heartbeat options throw INVALID_ARGUMENT at construction', () => {
    for (const options of [
      { heartbeatIntervalMs: -1 },
      { heartbeatIntervalMs: Number.NaN },
      { heartbeatIntervalMs: Number.POSITIVE_INFINITY },
      { heartbeatIntervalMs: '100' },
      { heartbeatTimeoutMs: 0 },
      { heartbeatTimeoutMs: -5 },
      { heartbeatTimeoutMs: Number.NaN },
    ]) {
      expect(() => new WebSocketFactory(running.url, options as never)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
    expect(new WebSocketFactory(running.url).heartbeatIntervalMs).toBe(30_000);
    expect(new WebSocketFactory(running.url).heartbeatTimeoutMs).toBe(20_000);
    expect(new WebSocketFactory(running.url, { heartbeatIntervalMs: 0 }).heartbeatIntervalMs).toBe(0);
  });

  it('a path that goes silent is detected: offline, connections lost once on both sides, online again and reachable', async () => {
    const a = hub(counting(proxy.url, { heartbeatIntervalMs: 200, heartbeatTimeoutMs: 1000 })).openEndpoint('alice');
    const b = hub(running.factory()).openEndpoint('bob');
    await b.firstAttempt;
    expect((await a.openConnection('bob')).status).toBe('CONNECTED');
    await until(() => b.isConnected('alice'), 'bob to accept alice');
    const events: string[] = [];
    a.on('offline', () => events.push('offline'));
    a.on('online', () => events.push('online'));
    const errors: unknown[] = [];
    a.on('error', (error) => errors.push(error));
    const lostOnA: string[] = [];
    const lostOnB: string[] = [];
    a.onConnectionLost((peer) => lostOnA.push(peer));
    b.onConnectionLost((peer) => lostOnB.push(peer));
    const offline = nextEvent(a, 'offline', 20_000);
    const online = nextEvent(a, 'online', 20_000);

    proxy.freeze();
    await offline;
    expect(lostOnA).toEqual(['bob']);
    // The broker never saw the old socket go: the reconnect takes the eva over with its session token.
    await online;
    await until(() => lostOnB.length > 0, 'bob to see alice lost', 20_000);

    expect(events).toEqual(['offline', 'online']);
    expect(lostOnA).toEqual(['bob']);
    expect(lostOnB).toEqual(['alice']);
    expect(errors).toEqual([]);
    expect((await b.openConnection('alice')).status).toBe('CONNECTED');
    await until(() => a.isConnected('bob'), 'alice to accept bob');
    const atAlice = messageAt(a);
    b.send('alice', 'after the freeze');
    expect(await atAlice).toBe('after the freeze');
    const atBob = messageAt(b);
    a.send('bob', 'back');
    expect(await atBob).toBe('back');
  });

  it('a healthy idle connection stays up across several heartbeats; heartbeatIntervalMs 0 never pings', async () => {
    const pinging = counting(running.url, { heartbeatIntervalMs: 200, heartbeatTimeoutMs: 1000 });
    const silent = counting(running.url, { heartbeatIntervalMs: 0, heartbeatTimeoutMs: 300 });
    const a = hub(pinging).openEndpoint('alice');
    const b = hub(silent).openEndpoint('bob');
    await b.firstAttempt;
    expect((await a.openConnection('bob')).status).toBe('CONNECTED');
    await until(() => b.isConnected('alice'), 'bob to accept alice');
    const events: string[] = [];
    for (const endpoint of [a, b]) {
      endpoint.on('offline', () => events.push(`${endpoint.eva} offline`));
      endpoint.on('error', (error: Error) => events.push(`${endpoint.eva} error ${error.message}`));
      endpoint.onConnectionLost((peer) => events.push(`${endpoint.eva} lost ${peer}`));
    }

    // Each ping after the first was sent only because the previous one was answered in time.
    const start = pinging.pings;
    await until(() => pinging.pings >= start + 4, 'four pings', 20_000);

    expect(events).toEqual([]);
    expect(silent.pings).toBe(0);
    expect(a.isOnline && b.isOnline).toBe(true);
    expect(a.isConnected('bob') && b.isConnected('alice')).toBe(true);
    const atBob = messageAt(b);
    a.send('bob', 'still here');
    expect(await atBob).toBe('still here');
  });

  it('a broker older than ping: its PROTOCOL error reply counts as the pong and is not reported', async () => {
    // Speaks just enough of protocol 1 as it was before ping: welcome, and the error its parser gave unknown types.
    const old = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise<void>((resolve) => old.once('listening', () => resolve()));
    old.on('connection', (socket) => {
      const control = (message: object): void => {
        const writer = new FrameWriter();
        writer.writeRecord(RecordKind.CONTROL, '', JSON.stringify(message));
        socket.send(writer.finish());
      };
      socket.on('message', (data: Buffer, isBinary) => {
        if (!isBinary) {
          control({ t: 'welcome', session: 'token', maxFrame: 1024 * 1024 });
          return;
        }
        readRecords(data, (kind, frame, _es, _ee, ps, pe) => {
          const message = JSON.parse(frame.subarray(ps, pe).toString()) as { t: string };
          if (kind === RecordKind.CONTROL && message.t === 'ping') {
            control({ t: 'error', code: 'PROTOCOL', message: 'Bad control message: unknown control message type "ping". See docs/protocol.md.' });
          }
        });
      });
    });
    try {
      const { port } = old.address() as AddressInfo;
      const factory = counting(`ws://127.0.0.1:${port}/webbroker/vnf-ws`, { heartbeatIntervalMs: 200, heartbeatTimeoutMs: 1000 });
      const a = hub(factory).openEndpoint('alice');
      await a.firstAttempt;
      expect(a.isOnline).toBe(true);
      const events: string[] = [];
      a.on('offline', () => events.push('offline'));
      a.on('error', (error: Error) => events.push(`error ${error.message}`));
      await until(() => factory.pings >= 4, 'four pings', 20_000);
      expect(events).toEqual([]);
      expect(a.isOnline).toBe(true);
    } finally {
      await Promise.all(hubs.splice(0).map((created) => created.close()));
      await new Promise<void>((resolve) => old.close(() => resolve()));
    }
  });
});
