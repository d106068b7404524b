// Attacks that stay within the old limits and starve everyone else: a ping flood from a socket that never reads,
// watch fan-out from many sockets of one client, and connections that hold the broker's descriptors or
// budgets without ever registering. Each attacker uses its own loopback address; honest clients use another.
import { trackResources } from '@vnf/conformance';
import { WebSocketHub } from '@vnf/websocket-hub';
import { startBroker } from '../fixture';
import type { RawClient } from '../rawClient';
import { ATTACKERS, BoundFactory, Close, HONEST, HonestPair, IdleConnections, Scope, callAll, controlFrame, rawConnect, rawRegister, turn, until } from './support';

let scope: Scope;
beforeEach(() => {
  scope = new Scope();
});
afterEach(() => scope.close());

/** Proves a client from HONEST can still register: a WebSocketHub endpoint comes online. */
async function honestRegisters(url: string, eva: string): Promise<void> {
  const hub = scope.add(new WebSocketHub(new BoundFactory(url, HONEST)));
  const endpoint = hub.openEndpoint(eva);
  await endpoint.firstAttempt;
  expect(endpoint.isOnline).toBe(true);
}

/** Resolves once `client` got a pong for a ping sent now: whatever the broker queued for it before has arrived. */
async function sync(client: RawClient): Promise<void> {
  const pongs = (): number => client.controls.filter((m) => m.t === 'pong').length;
  const before = pongs();
  client.sendControl({ t: 'ping' });
  await client.until(() => pongs() > before || undefined, 'a pong');
}

it('a client flooding pings (50 000/s) without reading is closed 4006 by the control limit; an honest pair loses nothing', async () => {
  const resources = trackResources();
  const running = scope.add(await startBroker());
  const pair = scope.add(await HonestPair.open(running.url, 'ping'));
  const [observer] = await rawRegister(running.url, 'flood-observer', ATTACKERS[1]);
  scope.add(observer);
  const [flooder] = await rawRegister(running.url, 'ping-flooder', ATTACKERS[0]);
  scope.add(flooder);
  flooder.sendControl({ t: 'open', to: 'flood-observer' });
  await flooder.control((m) => m.t === 'opened');
  await observer.control((m) => m.t === 'accept');

  flooder.ws.pause();
  const traffic = pair.background();
  const frame = controlFrame(Array.from({ length: 500 }, () => ({ t: 'ping' })));
  const dropped = (): boolean => observer.controls.some((m) => m.t === 'lost' && m.from === 'ping-flooder');
  const start = Date.now();
  let pings = 0;
  while (!dropped()) {
    if (Date.now() - start > 10_000) throw new Error(`the broker still served the flooder after ${pings} pings in 10 s`);
    while (pings < (Date.now() - start) * 50 + 500) {
      flooder.ws.send(frame);
      pings += 500;
    }
    await turn();
  }
  const delivered = await traffic.stop();
  await pair.exchange(50);
  pair.assertHealthy();
  expect(delivered).toBeGreaterThan(0);

  flooder.ws.resume();
  expect(await flooder.closedWithin(5000)).toBe(Close.RATE_LIMITED);
  expect(flooder.controls).toContainEqual(expect.objectContaining({ t: 'error', code: 'RATE_LIMITED' }));
  expect(flooder.controls.filter((m) => m.t === 'pong').length).toBeLessThanOrEqual(2000);
  expect(observer.closeCode).toBeNull();

  await scope.close();
  await resources.released(5000);
});

it('16 rpc sockets × 64 watches from one client get 256 watches (the rest TOO_LARGE), bounding fan-out; other clients watch freely', async () => {
  const resources = trackResources();
  const running = scope.add(await startBroker());
  const watchers: RawClient[] = [];
  for (let i = 0; i < 16; i++) {
    const [w] = await rawRegister(running.url, `fan-${i}`, ATTACKERS[0], { role: 'rpc' });
    watchers.push(scope.add(w));
  }
  const answers = await Promise.all(
    watchers.map((w, i) => callAll(w, Array.from({ length: 64 }, (_, j) => ({ method: 'registry.watch', params: { collection: 'fan', watchId: `w${i}-${j}` } })), 1)),
  );
  const flat = answers.flat();
  expect(flat.filter((r) => r.t === 'result')).toHaveLength(256);
  const refused = flat.filter((r) => r.t === 'failure');
  expect(refused).toHaveLength(16 * 64 - 256);
  expect(new Set(refused.map((r) => (r.t === 'failure' ? r.code : r.t)))).toEqual(new Set(['TOO_LARGE']));

  const [honest] = await rawRegister(running.url, 'honest-fan-watcher', HONEST, { role: 'rpc' });
  scope.add(honest);
  expect(await callAll(honest, [{ method: 'registry.watch', params: { collection: 'fan', watchId: 'h' } }], 1)).toMatchObject([{ t: 'result' }]);
  const [writer] = await rawRegister(running.url, 'fan-writer', ATTACKERS[1], { role: 'rpc' });
  scope.add(writer);

  const changes = (): number => watchers.reduce((n, w) => n + w.controls.filter((m) => m.t === 'notify' && m.method === 'registry.change').length, 0);
  const write = async (name: string): Promise<void> => {
    await callAll(writer, [{ method: 'registry.create', params: { collection: 'fan', name, value: name } }], 100 + name.length);
    // The notifications were queued before the writer's answer; a pong on each socket comes behind them.
    await Promise.all([...watchers, honest].map(sync));
  };
  await write('one');
  expect(changes()).toBe(256);
  expect(honest.controls.filter((m) => m.t === 'notify')).toHaveLength(1);

  // A watch given up returns its unit to the client's budget: a refused socket can now watch once.
  const giver = answers.findIndex((a) => a.some((r) => r.t === 'result'));
  const given = answers[giver].findIndex((r) => r.t === 'result');
  expect(await callAll(watchers[giver], [{ method: 'registry.unwatch', params: { watchId: `w${giver}-${given}` } }], 500)).toMatchObject([{ t: 'result' }]);
  const taker = answers.findIndex((a) => a.some((r) => r.t === 'failure'));
  expect(taker).toBeGreaterThanOrEqual(0);
  const retried = await callAll(watchers[taker], [
    { method: 'registry.watch', params: { collection: 'fan', watchId: 'again-1' } },
    { method: 'registry.watch', params: { collection: 'fan', watchId: 'again-2' } },
  ], 500);
  expect(retried.map((r) => (r.t === 'failure' ? r.code : r.t))).toEqual(['result', 'TOO_LARGE']);
  await write('two');
  expect(changes()).toBe(512);
  expect(watchers.every((w) => w.closeCode === null)).toBe(true);

  await scope.close();
  await resources.released(5000);
});

it('idle TCP connections: over maxConnectionsPerAddress they are cut at once, maxConnections caps the rest; clients from another address register', async () => {
  const resources = trackResources();
  const running = scope.add(
    await startBroker({ maxConnectionsPerAddress: 100, maxConnections: 150, headersTimeoutMs: 60_000, requestTimeoutMs: 60_000, helloTimeoutMs: 60_000 }),
  );
  const first = new IdleConnections();
  scope.defer(() => first.destroyAll());
  first.open(running.port, ATTACKERS[0], 300);
  // Long before any timeout could: the server cuts every connection past 100 from that address.
  await until('200 connections cut', () => first.closedByServer >= 200, 10_000, () => first.describe());
  expect(first.closedByServer).toBe(200);
  await honestRegisters(running.url, 'honest-beside-idle');

  // A second address fills the server up to maxConnections; past it, connections are dropped too.
  const second = new IdleConnections();
  scope.defer(() => second.destroyAll());
  second.open(running.port, ATTACKERS[1], 100);
  await until('the server to drop what exceeds maxConnections', () => second.closedByServer >= 50, 10_000, () => second.describe());
  expect(first.stillOpen + second.stillOpen).toBeLessThanOrEqual(150);
  expect(first.stillOpen).toBe(100);

  // Closed connections are given back: the first address can connect and register again.
  await first.destroyAll();
  await second.destroyAll();
  const [again] = await rawRegister(running.url, 'after-idle', ATTACKERS[0]);
  scope.add(again);

  await scope.close();
  await resources.released(5000);
});

it('idle TCP connections that never send their upgrade request, or send it half, are closed after headersTimeoutMs', async () => {
  const resources = trackResources();
  const running = scope.add(await startBroker({ headersTimeoutMs: 500, requestTimeoutMs: 1000 }));
  const idle = new IdleConnections();
  scope.defer(() => idle.destroyAll());
  idle.open(running.port, ATTACKERS[0], 300);
  const slow = new IdleConnections();
  scope.defer(() => slow.destroyAll());
  slow.open(running.port, ATTACKERS[1], 50);
  for (const s of slow.sockets) s.once('connect', () => s.write(`GET ${new URL(running.url).pathname} HTTP/1.1\r\nHost: x\r\n`));

  await honestRegisters(running.url, 'honest-while-idle');
  await until('every idle connection to be closed by the server', () => idle.closedByServer === 300 && slow.closedByServer === 50, 15_000, () =>
    JSON.stringify({ idle: idle.closedByServer, slow: slow.closedByServer }),
  );
  const [again] = await rawRegister(running.url, 'after-reaping', ATTACKERS[0]);
  scope.add(again);

  await scope.close();
  await resources.released(5000);
});

it('maxPendingPerClient: sockets that never say hello past 32 per client are closed 4008; others register', async () => {
  const resources = trackResources();
  const running = scope.add(await startBroker({ helloTimeoutMs: 60_000 }));
  const silent = await Promise.all(Array.from({ length: 40 }, () => rawConnect(running.url, ATTACKERS[0])));
  silent.forEach((s) => scope.add(s));
  await until('8 sockets closed 4008', () => silent.filter((s) => s.closeCode !== null).length >= 8, 10_000, () =>
    JSON.stringify(silent.map((s) => s.closeCode)),
  );
  expect(silent.filter((s) => s.closeCode === Close.CLIENT_LIMIT)).toHaveLength(8);
  await honestRegisters(running.url, 'honest-beside-pending');

  // A pending socket that registers frees its pending unit: one more may connect and register.
  const waiting = silent.filter((s) => s.closeCode === null);
  expect((await waiting[0].hello('was-pending')).t).toBe('welcome');
  const [late] = await rawRegister(running.url, 'late', ATTACKERS[0]);
  scope.add(late);
  expect(waiting.every((s) => s.closeCode === null)).toBe(true);

  await scope.close();
  await resources.released(5000);
});

it('maxEvasPerClient: a 33rd registered socket (endpoint or rpc) from one client is closed 4008; a clean close gives its unit back', async () => {
  const resources = trackResources();
  const running = scope.add(await startBroker());
  const held: RawClient[] = [];
  for (let i = 0; i < 32; i++) {
    const [c] = await rawRegister(running.url, `eva-${i}`, ATTACKERS[0], i % 2 ? { role: 'rpc' } : {});
    held.push(scope.add(c));
  }
  const extra = scope.add(await rawConnect(running.url, ATTACKERS[0]));
  expect((await extra.hello('eva-32')).t).not.toBe('welcome');
  expect(await extra.closedWithin()).toBe(Close.CLIENT_LIMIT);
  await honestRegisters(running.url, 'honest-beside-evas');

  held[0].ws.close(Close.NORMAL);
  await held[0].closedWithin();
  const [replacement] = await rawRegister(running.url, 'eva-32', ATTACKERS[0]);
  scope.add(replacement);
  expect(held.slice(1).every((c) => c.closeCode === null)).toBe(true);

  await scope.close();
  await resources.released(5000);
});
