import { until } from '@vnf/conformance';
import { CloseCode, WebSocketFactory, WebSocketHub } from '@vnf/websocket-hub';
import { PROTOCOL_VERSION } from '@vnf/protocol';
import { Broker } from '../src';
import { startBroker, type Running } from './fixture';
import { RawClient, rawPair } from './rawClient';

let running: Running;
afterEach(() => running?.close());

async function register(eva: string, extra: Record<string, unknown> = {}): Promise<[RawClient, string]> {
  const [client, session] = await RawClient.register(running.url, eva, extra);
  running.track(client);
  return [client, session];
}

async function connect(headers?: Record<string, string>): Promise<RawClient> {
  return running.track(await RawClient.connect(running.url, headers ? { headers } : {}));
}

describe('Broker options', () => {
  it.each([
    [{ path: 'no-slash' }],
    [{ maxPayload: 10 }],
    [{ sendBufferLimit: 1024 }],
    [{ maxMessagesPerSecond: -1 }],
    [{ maxMesageSize: 1 }],
    [{ evaGraceMs: -5 }],
    [{ trustProxy: 'yes' }],
    [{ maxCallsInFlight: 1.5 }],
    [{ watchLagBytes: 64 * 1024 * 1024 }],
    [{ registry: { maxValueBytes: 10 * 1024 * 1024 } }],
    [{ heartbeatIntervalMs: -1 }],
    [{ authenticate: 'yes' }],
    [{ allowedOrigins: 'https://a' }],
    [{ methods: { 'registry.get': () => 1 } }],
  ])('%j throws INVALID_ARGUMENT at construction', (options) => {
    expect(() => new Broker(options as never)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});

describe('Broker identity', () => {
  beforeEach(async () => {
    running = await startBroker();
  });

  it('stamps sourceEva itself: a client cannot speak as another eva', async () => {
    const [alice] = await register('alice');
    const [mallory, bob] = await rawPair(running.url, 'mallory', 'bob');
    running.track(mallory);
    running.track(bob);
    // A second hello cannot change the eva of a registered socket.
    mallory.ws.send(JSON.stringify({ t: 'hello', v: PROTOCOL_VERSION, role: 'endpoint', eva: 'alice' }));
    await mallory.control((m) => m.t === 'error' && m.code === 'PROTOCOL');
    mallory.sendText('bob', 'I am alice');
    await bob.until(() => bob.data.length > 0 || undefined, 'a message');
    expect(bob.data).toEqual([{ source: 'mallory', payload: 'I am alice' }]);
    // Speaking to an eva one is not connected to delivers nothing.
    mallory.sendText('alice', 'psst');
    mallory.sendControl({ t: 'open', to: 'bob' });
    await mallory.control((m) => m.t === 'opened' && m.to === 'bob' && mallory.controls.filter((c) => c.t === 'opened').length === 2);
    expect(alice.data).toEqual([]);
  });

  it('a second socket for a live eva gets EVA_IN_USE (4003); the session token takes over (4004 for the old one)', async () => {
    const [first, session] = await register('alice');
    const intruder = await connect();
    await intruder.hello('alice');
    expect(await intruder.closedWithin()).toBe(CloseCode.EVA_IN_USE);
    const wrong = await connect();
    await wrong.hello('alice', { session: session.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')) });
    expect(await wrong.closedWithin()).toBe(CloseCode.EVA_IN_USE);

    const [bob] = await register('bob');
    bob.sendControl({ t: 'open', to: 'alice' });
    await bob.control((m) => m.t === 'opened');

    const reconnect = await connect();
    const welcome = await reconnect.hello('alice', { session });
    expect(welcome).toMatchObject({ t: 'welcome', session });
    expect(await first.closedWithin()).toBe(CloseCode.TAKEN_OVER);
    // Connections of the replaced socket are reported lost to its peers.
    await bob.control((m) => m.t === 'lost' && m.from === 'alice');
    bob.sendControl({ t: 'open', to: 'alice' });
    await reconnect.control((m) => m.t === 'accept' && m.from === 'bob');
  });

  it("an rpc socket joins a live endpoint's eva only with its session token, in either order; it still cannot open connections", async () => {
    const [, session] = await register('alice');
    const stranger = await connect();
    await stranger.hello('alice', { role: 'rpc' });
    expect(await stranger.closedWithin()).toBe(CloseCode.EVA_IN_USE);
    const [rpc, shared] = await register('alice', { role: 'rpc', session });
    expect(shared).toBe(session);
    rpc.sendControl({ t: 'open', to: 'alice' });
    await rpc.control((m) => m.t === 'error' && m.code === 'PROTOCOL');

    const [, rpcSession] = await register('bob', { role: 'rpc' });
    const squatter = await connect();
    await squatter.hello('bob');
    expect(await squatter.closedWithin()).toBe(CloseCode.EVA_IN_USE);
    const [, endpointSession] = await register('bob', { session: rpcSession });
    expect(endpointSession).toBe(rpcSession);
  });

  it('opening an absent eva is refused NOT_FOUND; when a socket goes, its peers get lost for each connection', async () => {
    const [a] = await register('a');
    const [b] = await register('b');
    const [c] = await register('c');
    a.sendControl({ t: 'open', to: 'nobody' });
    expect(await a.control((m) => m.t === 'refused')).toMatchObject({ to: 'nobody', code: 'NOT_FOUND' });
    b.sendControl({ t: 'open', to: 'a' });
    c.sendControl({ t: 'open', to: 'a' });
    await b.control((m) => m.t === 'opened');
    await c.control((m) => m.t === 'opened');
    a.ws.terminate();
    await b.control((m) => m.t === 'lost' && m.from === 'a');
    await c.control((m) => m.t === 'lost' && m.from === 'a');
  });
});

describe('Broker admission', () => {
  it('the authenticate hook refuses with 4001; the hub reports UNAUTHORIZED', async () => {
    const seen: [string, string | undefined, boolean][] = [];
    running = await startBroker({
      authenticate: async (eva, token, request) => {
        seen.push([eva, token, typeof request.headers === 'object']);
        return token === 'secret';
      },
    });
    const refused = await connect();
    await refused.hello('alice', { auth: 'wrong' });
    expect(await refused.closedWithin()).toBe(CloseCode.UNAUTHORIZED);
    const [ok] = await register('alice', { auth: 'secret' });
    expect(ok.closeCode).toBeNull();
    expect(seen).toEqual([
      ['alice', 'wrong', true],
      ['alice', 'secret', true],
    ]);

    const hub = new WebSocketHub(new WebSocketFactory(running.url, { authToken: 'nope' }));
    try {
      const endpoint = hub.openEndpoint('bob');
      const error = new Promise((resolve) => endpoint.on('error', resolve));
      expect(await endpoint.openConnection('alice')).toMatchObject({ status: 'FAILED', reason: 'UNAUTHORIZED' });
      expect(await error).toMatchObject({ code: 'UNAUTHORIZED' });
    } finally {
      await hub.close();
    }
  });

  it('the origin allow-list refuses other browser origins with 4001 and lets allowed ones and non-browsers in', async () => {
    running = await startBroker({ allowedOrigins: ['https://app.example'] });
    const evil = await connect({ origin: 'https://evil.example' });
    expect(await evil.closedWithin()).toBe(CloseCode.UNAUTHORIZED);
    expect(evil.closeReason).toContain('origin');
    const good = await connect({ origin: 'https://app.example' });
    expect(await good.hello('a')).toMatchObject({ t: 'welcome' });
    const node = await connect();
    expect(await node.hello('b')).toMatchObject({ t: 'welcome' });
  });

  it('a wrong protocol version closes with 4002; no hello in time closes with 4007', async () => {
    running = await startBroker({ helloTimeoutMs: 100 });
    const old = await connect();
    old.ws.send(JSON.stringify({ t: 'hello', v: 999, role: 'endpoint', eva: 'a' }));
    expect(await old.closedWithin()).toBe(CloseCode.VERSION);
    const silent = await connect();
    expect(await silent.closedWithin()).toBe(CloseCode.HELLO_TIMEOUT);
  });

  it('serves only its path; attach() shares an existing HTTP server', async () => {
    const http = await import('node:http');
    const server = http.createServer((_req, res) => res.end('express would answer here'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const broker = new Broker();
    broker.attach(server, { path: '/vnf' });
    running = { broker, url: `ws://127.0.0.1:${port}/vnf`, port, clients: [], track: (c) => c, close: async () => {
      await broker.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    } } as Running;
    const client = running.track(await RawClient.connect(`ws://127.0.0.1:${port}/vnf`));
    expect(await client.hello('a')).toMatchObject({ t: 'welcome' });
    client.ws.terminate();
    await expect(RawClient.connect(`ws://127.0.0.1:${port}/other`)).rejects.toThrow(/404/);
    const body = await fetch(`http://127.0.0.1:${port}/`).then((r) => r.text());
    expect(body).toBe('express would answer here');
  });
});

describe('Broker ping', () => {
  it('answers ping with pong on endpoint and rpc sockets, as a batch record or a text frame', async () => {
    running = await startBroker();
    const [endpoint, session] = await register('pinger');
    const [rpc] = await register('pinger', { role: 'rpc', session });
    endpoint.sendControl({ t: 'ping' });
    rpc.ws.send(JSON.stringify({ t: 'ping' }));
    await endpoint.until(() => endpoint.controls.filter((m) => m.t === 'pong').length === 1 || undefined, 'a pong on the endpoint socket');
    await rpc.until(() => rpc.controls.filter((m) => m.t === 'pong').length === 1 || undefined, 'a pong on the rpc socket');
    expect(endpoint.controls.filter((m) => m.t === 'error')).toEqual([]);
    expect(rpc.controls.filter((m) => m.t === 'error')).toEqual([]);
  });

  it("bounds a client's fan-out in bytes: past maxNotifyBytesPerSecondPerClient its notifications are dropped, then one resync comes", async () => {
    running = await startBroker({ maxNotifyBytesPerSecondPerClient: 20_000 });
    const [watcher] = await register('watcher');
    const [writer] = await register('writer');
    for (let i = 0; i < 10; i++) watcher.sendControl({ t: 'call', id: i + 1, method: 'registry.watch', params: { collection: 'c', watchId: `w${i}` } });
    await watcher.until(() => watcher.controls.filter((m) => m.t === 'result').length === 10 || undefined, 'ten watches');
    // 10 changes × 10 watches × ~1.2 KB: far past 20 000 bytes in one second.
    for (let i = 0; i < 10; i++) writer.sendControl({ t: 'call', id: i + 1, method: 'registry.create', params: { collection: 'c', name: `e${i}`, value: 'v'.repeat(1000) } });
    await watcher.control((m) => m.t === 'notify' && m.method === 'registry.resync', 10_000);
    const changes = watcher.controls.filter((m) => m.t === 'notify' && m.method === 'registry.change');
    expect(changes.length).toBeGreaterThan(0);
    expect(changes.length).toBeLessThan(100);
    expect(watcher.closeCode).toBeNull();
  });

  it("paces a client's control messages across its sockets instead of refusing them: every one is answered, in order, none refused", async () => {
    running = await startBroker({ maxControlPerSecond: 100, maxControlPerSecondPerClient: 30 });
    const clients: RawClient[] = [];
    for (let i = 0; i < 4; i++) clients.push((await register(`c${i}`))[0]);
    // 4 hellos so far; 10 calls a socket stay within 100 per socket, but 44 in all pass 30 for the client (a burst of 16).
    const started = Date.now();
    for (const client of clients) {
      for (let i = 0; i < 10; i++) client.sendControl({ t: 'call', id: i + 1, method: 'registry.get', params: { collection: 'c', name: `n${i}` } });
    }
    for (const client of clients) {
      await client.until(() => client.controls.filter((m) => m.t === 'failure').length === 10 || undefined, 'ten answers', 10_000);
      const answers = client.controls.filter((m) => m.t === 'failure');
      expect(answers.map((m) => m.id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(answers.every((m) => m.code === 'NOT_FOUND')).toBe(true);
      expect(client.closeCode).toBeNull();
    }
    // A lower bound, never flaky (a slow machine only adds to it): the client held at most its burst of 16 when the
    // calls began and gets 30 a second after it, so the other 24 of its 40 calls take at least 0.8 s.
    expect(Date.now() - started).toBeGreaterThanOrEqual(780);
  });

  /** Sends `calls` one at a time, each after the previous answer; the answers, in order. */
  async function oneByOne(client: RawClient, calls: { method: string; params: unknown }[]): Promise<Record<string, unknown>[]> {
    for (const [i, call] of calls.entries()) {
      client.sendControl({ t: 'call', id: i + 1, ...call });
      await client.until(() => client.controls.some((m) => (m.t === 'result' || m.t === 'failure') && m.id === i + 1) || undefined, `answer ${i + 1}`, 10_000);
    }
    return client.controls.filter((m) => m.t === 'result' || m.t === 'failure') as Record<string, unknown>[];
  }

  it("paces a client past its reply bytes: its next calls wait (never refused) until the budget refilled", async () => {
    running = await startBroker({ maxReplyBytesPerSecondPerClient: 200_000 });
    const [owner] = await register('owner', { role: 'rpc' });
    const value = 'v'.repeat(10_000);
    await oneByOne(owner, Array.from({ length: 5 }, (_, i) => ({ method: 'registry.create', params: { collection: 'c', name: `n${i}`, value } })));
    const [lister] = await register('lister', { role: 'rpc' });
    const started = Date.now();
    const answers = await oneByOne(lister, Array.from({ length: 6 }, () => ({ method: 'registry.list', params: { collection: 'c' } })));
    expect(answers.map((a) => [a.id, a.t])).toEqual([1, 2, 3, 4, 5, 6].map((id) => [id, 'result']));
    expect(lister.closeCode).toBeNull();
    // A lower bound, never flaky: the 6th call waits until the 5 replies of 50 KB before it, less a burst of 64 KiB,
    // were paid for at 200 000 bytes a second: 0.92 s.
    expect(Date.now() - started).toBeGreaterThanOrEqual(850);
  });

  it("paces a client past its control bytes: its next messages wait (never refused) until the budget refilled", async () => {
    running = await startBroker({ maxControlBytesPerSecondPerClient: 100_000 });
    const [owner] = await register('owner', { role: 'rpc' });
    const started = Date.now();
    const value = 'v'.repeat(20_000);
    const answers = await oneByOne(owner, Array.from({ length: 7 }, (_, i) => ({ method: 'registry.create', params: { collection: 'c', name: `n${i}`, value } })));
    expect(answers.map((a) => [a.id, a.t])).toEqual([1, 2, 3, 4, 5, 6, 7].map((id) => [id, 'result']));
    // A lower bound, never flaky: the 7th call waits until the 120 KB before it, less a burst of 64 KiB, were paid
    // for at 100 000 bytes a second: 0.54 s.
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
  });

  it('counts pings against the flood limit', async () => {
    running = await startBroker({ maxMessagesPerSecond: 10 });
    const [client] = await register('flooder');
    for (let i = 0; i < 20; i++) client.sendControl({ t: 'ping' });
    expect(await client.closedWithin()).toBe(CloseCode.RATE_LIMITED);
    expect(client.controls).toContainEqual(expect.objectContaining({ t: 'error', code: 'RATE_LIMITED' }));
  });
});
