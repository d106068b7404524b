// Operator metrics (GET /metrics, Prometheus text) and readiness (GET /healthz) of a real broker, on its own server
// and through the handlers on a user's server.
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { register } from 'prom-client';
import { until, uniqueEva } from '@vnf/conformance';
import { PROTOCOL_VERSION } from '@vnf/protocol';
import { WebSocketFactory, WebSocketHub } from '@vnf/websocket-hub';
import { MemoryRegistryStore, WebSocketRegistryClient } from '@vnf/registry';
import { Broker, MemoryBus, MemoryRouter, type Router } from '../src';
import { startBroker, type Running } from './fixture';
import { RawClient, rawPair } from './rawClient';

let running: Running | undefined;
const hubs: WebSocketHub[] = [];
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(hubs.splice(0).map((hub) => hub.close()));
  await running?.close();
  running = undefined;
  await Promise.all(
    servers.splice(0).map((server) => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    }),
  );
});

interface Reply {
  status: number;
  type: string | undefined;
  body: string;
}

function get(port: number, path: string, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body }));
    });
    req.on('error', reject);
    req.end();
  });
}

type Families = Map<string, ReturnType<typeof parsePrometheusTextFormat>[number]>;

async function scrape(port: number): Promise<{ text: string; families: Families }> {
  const reply = await get(port, '/metrics');
  expect(reply.status).toBe(200);
  expect(reply.type).toMatch(/^text\/plain/);
  return { text: reply.body, families: new Map(parsePrometheusTextFormat(reply.body).map((f) => [f.name, f])) };
}

/** The value of an unlabelled gauge or counter, or of the sample whose labels include `labels`. */
function value(families: Families, name: string, labels: Record<string, string> = {}): number {
  const family = families.get(name);
  if (!family) throw new Error(`no metric ${name}`);
  const sample = family.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return sample?.value === undefined ? 0 : Number(sample.value);
}

function hubOn(url: string): WebSocketHub {
  const hub = new WebSocketHub(new WebSocketFactory(url));
  hubs.push(hub);
  return hub;
}

/** A MemoryRouter with a `ping` the test controls. */
class PingRouter implements Router {
  private readonly inner = new MemoryRouter();
  constructor(readonly ping: () => Promise<void>) {}
  claim: Router['claim'] = (...args) => this.inner.claim(...args);
  lookup: Router['lookup'] = (...args) => this.inner.lookup(...args);
  release: Router['release'] = (...args) => this.inner.release(...args);
  renew: Router['renew'] = (...args) => this.inner.renew(...args);
}

describe('GET /metrics', () => {
  it('moves with traffic: endpoints, connections, relayed messages and bytes, close codes; names no eva', async () => {
    running = await startBroker();
    const { port } = running;
    const before = await scrape(port);
    expect(before.families.get('vnf_broker_endpoints')?.type).toBe('GAUGE');
    expect(before.families.get('vnf_broker_relayed_messages_total')?.type).toBe('COUNTER');
    expect(value(before.families, 'vnf_broker_endpoints')).toBe(0);
    // No router ping (MemoryRouter): no round-trip histogram.
    expect(before.families.has('vnf_broker_cluster_round_trip_seconds')).toBe(false);

    const aliceEva = uniqueEva('metrics-alice');
    const bobEva = uniqueEva('metrics-bob');
    const hub = hubOn(running.url);
    const alice = hub.openEndpoint(aliceEva);
    const bob = hub.openEndpoint(bobEva);
    await Promise.all([alice.firstAttempt, bob.firstAttempt]);
    expect((await alice.openConnection(bobEva)).status).toBe('CONNECTED');
    const got: unknown[] = [];
    bob.onMessage = (e) => got.push(e.message);
    const N = 50;
    const message = 'x'.repeat(100);
    for (let i = 0; i < N; i++) alice.send(bobEva, message);
    await until(`${N} messages at bob`, 10_000, () => got.length === N);

    // An rpc socket counts as one, not as an endpoint.
    const [rpc] = await RawClient.register(running.url, uniqueEva('metrics-rpc'), { role: 'rpc' });
    running.track(rpc);

    const during = await scrape(port);
    expect(value(during.families, 'vnf_broker_endpoints')).toBe(2);
    expect(value(during.families, 'vnf_broker_rpc_sockets')).toBe(1);
    expect(value(during.families, 'vnf_broker_sockets')).toBe(3);
    expect(value(during.families, 'vnf_broker_connections')).toBe(1);
    expect(value(during.families, 'vnf_broker_held_back_senders')).toBe(0);
    expect(value(during.families, 'vnf_broker_relayed_messages_total') - value(before.families, 'vnf_broker_relayed_messages_total')).toBeGreaterThanOrEqual(N);
    expect(value(during.families, 'vnf_broker_relayed_bytes_total') - value(before.families, 'vnf_broker_relayed_bytes_total')).toBeGreaterThanOrEqual(N * message.length);

    // A client closing normally (1000), and the broker closing one with VERSION (4002).
    bob.destroy();
    await rpc.close();
    const stranger = running.track(await RawClient.connect(running.url));
    stranger.ws.send(JSON.stringify({ t: 'hello', v: PROTOCOL_VERSION + 100, role: 'endpoint', eva: uniqueEva('metrics-old') }));
    expect(await stranger.closedWithin()).toBe(4002);
    await until('bob and the rpc socket gone from the broker', 10_000, () => running!.broker.connectionCount === 1);

    const after = await scrape(port);
    expect(value(after.families, 'vnf_broker_endpoints')).toBe(1);
    expect(value(after.families, 'vnf_broker_rpc_sockets')).toBe(0);
    // The rpc socket was cut (terminate): 1006.
    expect(value(after.families, 'vnf_broker_closes_total', { code: '1006' })).toBe(1);
    expect(value(after.families, 'vnf_broker_connections')).toBe(0);
    expect(after.families.get('vnf_broker_closes_total')?.type).toBe('COUNTER');
    expect(value(after.families, 'vnf_broker_closes_total', { code: '1000' })).toBe(1);
    expect(value(after.families, 'vnf_broker_closes_total', { code: '4002' })).toBe(1);

    for (const { text } of [before, during, after]) {
      expect(text).not.toContain('metrics-');
      expect(text).not.toContain('127.0.0.1');
    }
  });

  it('counts registry entries and watches as they come and go', async () => {
    running = await startBroker();
    const { port } = running;
    const before = await scrape(port);
    expect(value(before.families, 'vnf_broker_registry_entries')).toBe(0);
    expect(value(before.families, 'vnf_broker_registry_watches')).toBe(0);
    const hub = hubOn(running.url);
    const owner = hub.openEndpoint(uniqueEva('metrics-owner'));
    await owner.firstAttempt;
    const registry = new WebSocketRegistryClient(owner.getWebSocketRpc());
    await registry.createEntry({ collection: 'metrics', name: 'one' }, 1);
    await registry.createEntry({ collection: 'metrics', name: 'two' }, 2);
    const stop = await registry.watch('metrics', () => undefined);
    const during = await scrape(port);
    expect(value(during.families, 'vnf_broker_registry_entries')).toBe(2);
    expect(value(during.families, 'vnf_broker_registry_watches')).toBe(1);
    await stop();
    await registry.deleteEntry({ collection: 'metrics', name: 'one' });
    const after = await scrape(port);
    expect(value(after.families, 'vnf_broker_registry_entries')).toBe(1);
    expect(value(after.families, 'vnf_broker_registry_watches')).toBe(0);
    await registry.close();
  });

  it('counts a sender held back by a receiver that stopped reading, until it drains', async () => {
    running = await startBroker({ maxPayload: 65536, sendBufferLimit: 512 * 1024, relayHighWaterMark: 128 * 1024 });
    const producerEva = uniqueEva('metrics-producer');
    const consumerEva = uniqueEva('metrics-consumer');
    const [producer, consumer] = await rawPair(running.url, producerEva, consumerEva);
    running.track(producer);
    running.track(consumer);
    consumer.ws.pause();
    const chunk = 'q'.repeat(32_000);
    let sent = 0;
    const deadline = Date.now() + 30_000;
    // Loopback's kernel buffers take a few MB first; the producer's own buffer grows once the broker stops reading it.
    while (producer.ws.bufferedAmount < 1_000_000) {
      if (Date.now() > deadline || sent >= 2000) throw new Error(`no backpressure after ${sent} messages`);
      producer.sendText(consumerEva, chunk);
      sent++;
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(value((await scrape(running.port)).families, 'vnf_broker_held_back_senders')).toBe(1);
    consumer.ws.resume();
    await consumer.until(() => consumer.data.length >= sent || undefined, `${sent} messages at the consumer`, 30_000);
    const drained = await scrape(running.port);
    expect(value(drained.families, 'vnf_broker_held_back_senders')).toBe(0);
    expect(value(drained.families, 'vnf_broker_relayed_messages_total')).toBeGreaterThanOrEqual(sent);
  }, 60_000);

  it('counts records handed to another broker, and the connection on both brokers', async () => {
    const shared = { router: new MemoryRouter(), bus: new MemoryBus(), registryStore: new MemoryRegistryStore() };
    const one = await startBroker(shared);
    const two = await startBroker(shared);
    try {
      const aliceEva = uniqueEva('metrics-alice');
      const bobEva = uniqueEva('metrics-bob');
      const alice = hubOn(one.url).openEndpoint(aliceEva);
      const bob = hubOn(two.url).openEndpoint(bobEva);
      await Promise.all([alice.firstAttempt, bob.firstAttempt]);
      expect((await alice.openConnection(bobEva)).status).toBe('CONNECTED');
      let got = 0;
      bob.onMessage = () => got++;
      const N = 30;
      for (let i = 0; i < N; i++) alice.send(bobEva, `m${i}`);
      await until(`${N} messages at bob`, 10_000, () => got === N);
      const [sent, received] = [(await scrape(one.port)).families, (await scrape(two.port)).families];
      expect(value(sent, 'vnf_broker_cluster_forwarded_messages_total')).toBeGreaterThanOrEqual(N);
      expect(value(received, 'vnf_broker_relayed_messages_total')).toBeGreaterThanOrEqual(N);
      expect(value(sent, 'vnf_broker_connections')).toBe(1);
      expect(value(received, 'vnf_broker_connections')).toBe(1);
    } finally {
      await Promise.all(hubs.splice(0).map((hub) => hub.close()));
      await Promise.all([one.close(), two.close()]);
      await shared.registryStore.close();
    }
  });

  it('times router.ping into vnf_broker_cluster_round_trip_seconds at each scrape, and counts failed pings', async () => {
    let failing = false;
    running = await startBroker({ router: new PingRouter(async () => (failing ? Promise.reject(new Error('redis down')) : undefined)) });
    const first = await scrape(running.port);
    const histogram = first.families.get('vnf_broker_cluster_round_trip_seconds');
    expect(histogram?.type).toBe('HISTOGRAM');
    expect(Number(histogram?.metrics[0].count)).toBe(1);
    expect(Number((await scrape(running.port)).families.get('vnf_broker_cluster_round_trip_seconds')?.metrics[0].count)).toBe(2);
    failing = true;
    const failed = await scrape(running.port);
    expect(Number(failed.families.get('vnf_broker_cluster_round_trip_seconds')?.metrics[0].count)).toBe(2);
    expect(value(failed.families, 'vnf_broker_cluster_ping_failures_total')).toBe(1);
  });

  it('keeps every other request as before: 426 for other paths and for other methods', async () => {
    running = await startBroker();
    expect((await get(running.port, '/')).status).toBe(426);
    expect((await get(running.port, '/metrics/x')).status).toBe(426);
    expect((await get(running.port, '/metrics', 'POST')).status).toBe(426);
    const head = await get(running.port, '/healthz', 'HEAD');
    expect(head).toMatchObject({ status: 200, body: '' });
  });
});

describe('GET /healthz', () => {
  it('is 200 ready while the broker is up', async () => {
    running = await startBroker();
    const reply = await get(running.port, '/healthz');
    expect(reply.status).toBe(200);
    expect(reply.type).toBe('application/json');
    expect(JSON.parse(reply.body)).toEqual({ status: 'ready' });
  });

  it('is 503 when the router ping rejects, and 200 again once it answers; it never shows the error text', async () => {
    let failing = true;
    running = await startBroker({ router: new PingRouter(async () => (failing ? Promise.reject(new Error('connect ECONNREFUSED 10.1.2.3:6379')) : undefined)) });
    const down = await get(running.port, '/healthz');
    expect(down.status).toBe(503);
    expect(JSON.parse(down.body)).toEqual({ status: 'unavailable', reason: 'router ping failed' });
    failing = false;
    expect((await get(running.port, '/healthz')).status).toBe(200);
  });

  it('is 503 when the router ping takes more than 2 s', async () => {
    let release: (() => void) | undefined;
    running = await startBroker({ router: new PingRouter(() => new Promise<void>((resolve) => (release = resolve))) });
    const started = Date.now();
    const slow = await get(running.port, '/healthz');
    expect(slow.status).toBe(503);
    expect(JSON.parse(slow.body).reason).toMatch(/more than 2000 ms/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
    release?.();
  });

  it('is unavailable once the broker is closing', async () => {
    const broker = new Broker();
    expect(await broker.health()).toEqual({ status: 'ready' });
    const closed = broker.close();
    expect(await broker.health()).toEqual({ status: 'unavailable', reason: 'broker closing' });
    await closed;
  });
});

describe('handlers for a broker attached to a server of its user', () => {
  it('metricsHandler and healthHandler answer on the routes the user chose', async () => {
    const broker = new Broker();
    const server = createServer((req, res) => {
      if (req.url === '/ops/metrics') broker.metricsHandler()(req, res);
      else if (req.url === '/ops/ready') broker.healthHandler()(req, res);
      else res.writeHead(404).end();
    });
    servers.push(server);
    broker.attach(server);
    // Closed before the server (afterEach): the broker's sockets go first.
    running = { broker, url: '', port: 0, clients: [], track: (c) => c, close: () => broker.close() };
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;

    const hub = hubOn(`ws://127.0.0.1:${port}/webbroker/vnf-ws`);
    const endpoint = hub.openEndpoint(uniqueEva('metrics-attached'));
    await endpoint.firstAttempt;
    const reply = await get(port, '/ops/metrics');
    expect(reply.status).toBe(200);
    expect(reply.type).toBe(broker.metricsContentType);
    expect(value(new Map(parsePrometheusTextFormat(reply.body).map((f) => [f.name, f])), 'vnf_broker_endpoints')).toBe(1);
    expect(reply.body).toBe(await broker.metrics());
    expect(await get(port, '/ops/ready')).toMatchObject({ status: 200, body: '{"status":"ready"}' });
    // The user's server, not the broker, owns its other routes.
    expect((await get(port, '/metrics')).status).toBe(404);
  });

  it('each broker has a registry of its own, and leaves prom-client\'s global one empty', async () => {
    const one = new Broker();
    const two = new Broker();
    try {
      expect(one.metricsRegistry).not.toBe(two.metricsRegistry);
      expect(await one.metrics()).toContain('vnf_broker_endpoints 0');
      expect(register.getMetricsAsArray().filter((m) => m.name.startsWith('vnf_'))).toEqual([]);
    } finally {
      await Promise.all([one.close(), two.close()]);
    }
  });
});
