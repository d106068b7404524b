// Two brokers in one process sharing a MemoryRouter, a MemoryBus and one registry store: endpoints on different
// brokers talk as if on one broker (messages in order, connection events, one registry), and a slow receiver on one
// broker holds back a fast sender on the other instead of being closed as a slow consumer.
import { trackResources, until } from '@vnf/conformance';
import { MemoryRegistryStorage, MemoryRegistryStore, RegistryRules, WebSocketRegistryClient } from '@vnf/registry';
import { CloseCode, WebSocketFactory, WebSocketHub } from '@vnf/websocket-hub';
import { MemoryBus, MemoryRouter, type BrokerOptions } from '../src';
import { startBroker, type Running } from './fixture';
import { RawClient } from './rawClient';

let brokers: Running[] = [];
const hubs: WebSocketHub[] = [];

async function cluster(options: BrokerOptions = {}): Promise<[Running, Running]> {
  const shared = { router: new MemoryRouter(), bus: new MemoryBus(), registryStore: new MemoryRegistryStore(), ...options };
  brokers = [await startBroker(shared), await startBroker(shared)];
  return brokers as [Running, Running];
}

function hubOn(running: Running): WebSocketHub {
  const hub = new WebSocketHub(new WebSocketFactory(running.url));
  hubs.push(hub);
  return hub;
}

afterEach(async () => {
  await Promise.all(hubs.splice(0).map((hub) => hub.close()));
  await Promise.all(brokers.map((b) => b.close()));
  brokers = [];
});

it('relays messages in order and connection events between endpoints on different brokers', async () => {
  const resources = trackResources();
  const [one, two] = await cluster();
  const alice = hubOn(one).openEndpoint('alice');
  const bob = hubOn(two).openEndpoint('bob');
  await Promise.all([alice.firstAttempt, bob.firstAttempt]);
  const accepted: string[] = [];
  bob.on('connection', (eva) => accepted.push(eva));
  const received: string[] = [];
  bob.onMessage = (e) => {
    received.push(`${e.sourceEva}:${String(e.message)}`);
    if (e.message === 'ping') bob.send(e.sourceEva, 'pong');
  };
  const replies: string[] = [];
  alice.onMessage = (e) => replies.push(`${e.sourceEva}:${String(e.message)}`);

  expect((await alice.openConnection('bob')).status).toBe('CONNECTED');
  await until('bob accepted alice', 10_000, () => accepted.includes('alice'));
  for (let i = 0; i < 200; i++) alice.send('bob', `m${i}`);
  alice.send('bob', 'ping');
  await until('pong back across the brokers', 10_000, () => replies.length === 1);
  expect(received).toEqual([...Array.from({ length: 200 }, (_, i) => `alice:m${i}`), 'alice:ping']);
  expect(replies).toEqual(['bob:pong']);

  // Closing on one side is a lost on the other; a reopened connection works again.
  const lost: string[] = [];
  bob.onConnectionLost((eva) => lost.push(eva));
  alice.closeConnection('bob');
  await until('bob lost alice', 10_000, () => lost.includes('alice'));
  expect((await alice.openConnection('bob')).status).toBe('CONNECTED');
  alice.send('bob', 'again');
  await until('the message after reopening', 10_000, () => received.includes('alice:again'));

  // An endpoint that goes away is lost to its peer on the other broker.
  const aliceLost: string[] = [];
  alice.onConnectionLost((eva) => aliceLost.push(eva));
  bob.destroy();
  await until('alice lost bob', 10_000, () => aliceLost.includes('bob'));
  // And an eva on neither broker is refused as on one broker.
  expect(await alice.openConnection('nobody')).toMatchObject({ status: 'FAILED', reason: 'NOT_FOUND' });

  await Promise.all(hubs.splice(0).map((hub) => hub.close()));
  await Promise.all(brokers.splice(0).map((b) => b.close()));
  await resources.released(5000);
});

it('one eva across the brokers: a second hello elsewhere is refused, a reconnect with the token takes over', async () => {
  const [one, two] = await cluster();
  const [first, session] = await RawClient.register(one.url, 'carol');
  one.track(first);
  await expect(RawClient.register(two.url, 'carol')).rejects.toThrow(String(CloseCode.EVA_IN_USE));
  const [second] = await RawClient.register(two.url, 'carol', { session });
  two.track(second);
  expect(await first.closedWithin()).toBe(CloseCode.TAKEN_OVER);
  expect(second.closeCode).toBeNull();
});

it('shares one registry: entries written through one broker are read and watched through the other, and vanish with their owner', async () => {
  const [one, two] = await cluster();
  const writer = hubOn(one).openEndpoint('writer');
  const reader = hubOn(two).openEndpoint('reader');
  await Promise.all([writer.firstAttempt, reader.firstAttempt]);
  const writerRegistry = new WebSocketRegistryClient(writer.getWebSocketRpc());
  const readerRegistry = new WebSocketRegistryClient(reader.getWebSocketRpc());
  const changes: string[] = [];
  await readerRegistry.watch('rooms', (change) => changes.push(`${change.type}:${change.entry.name}`));
  await writerRegistry.createEntry({ collection: 'rooms', name: 'lobby' }, { topic: 'hi' });
  expect(await readerRegistry.getEntry({ collection: 'rooms', name: 'lobby' })).toEqual({ topic: 'hi' });
  await until('the watch on the other broker saw the entry', 10_000, () => changes.includes('added:lobby'));
  writer.destroy();
  await until('the entry vanished with its owner', 10_000, () => changes.includes('removed:lobby'));
  expect(await readerRegistry.listEntries('rooms')).toEqual([]);
  readerRegistry.close();
  writerRegistry.close();
});

it('a slow receiver on one broker holds back a fast sender on the other through TCP; nothing is lost and nobody is closed', async () => {
  const limits = { maxPayload: 65536, sendBufferLimit: 512 * 1024, relayHighWaterMark: 128 * 1024 };
  const [one, two] = await cluster(limits);
  const [producer] = await RawClient.register(one.url, 'producer');
  one.track(producer);
  const [consumer] = await RawClient.register(two.url, 'consumer');
  two.track(consumer);
  producer.sendControl({ t: 'open', to: 'consumer' });
  await producer.control((m) => m.t === 'opened');
  consumer.ws.pause();
  const chunk = 'q'.repeat(32_000);
  const limit = 2000; // 64 MB: loopback's kernel buffers hold a few MB before TCP pushes back
  let sent = 0;
  const deadline = Date.now() + 30_000;
  // Without the hold across brokers, broker two would queue past the consumer's 512 KiB and close it (4005).
  while (producer.ws.bufferedAmount < 1_000_000) {
    if (Date.now() > deadline || sent >= limit) throw new Error(`no backpressure across the brokers after ${sent} messages`);
    producer.sendText('consumer', chunk);
    sent++;
    await new Promise((resolve) => setImmediate(resolve));
  }
  expect(consumer.closeCode).toBeNull();
  consumer.ws.resume();
  await consumer.until(() => consumer.data.length >= sent || undefined, `${sent} messages at the consumer`, 30_000);
  expect(consumer.data).toHaveLength(sent);
  expect(consumer.data.every((m) => m.source === 'producer' && m.payload === chunk)).toBe(true);
  expect(consumer.closeCode).toBeNull();
  expect(producer.closeCode).toBeNull();
}, 60_000);

it('a reconnect to the other broker within the grace keeps the entries; they go when the new session ends', async () => {
  const [one, two] = await cluster();
  const [first, session] = await RawClient.register(one.url, 'dave');
  one.track(first);
  first.sendControl({ t: 'call', id: 1, method: 'registry.create', params: { collection: 'c', name: 'n', value: 1 } });
  await first.control((m) => m.t === 'result' && m.id === 1);
  first.ws.terminate(); // unclean: broker one keeps dave reserved for its token
  await until('broker one reserved dave', 10_000, () => one.broker.reservedCount === 1);
  const [second] = await RawClient.register(two.url, 'dave', { session });
  two.track(second);
  await until('broker one ended the reservation', 10_000, () => one.broker.reservedCount === 0);
  second.sendControl({ t: 'call', id: 2, method: 'registry.get', params: { collection: 'c', name: 'n' } });
  expect(await second.control((m) => m.t === 'result' && m.id === 2)).toMatchObject({ result: { entry: { value: 1, owner: 'dave' } } });
  second.ws.close(1000);
  const [reader] = await RawClient.register(one.url, 'reader');
  one.track(reader);
  await until('the entry went with the session', 10_000, () => {
    reader.sendControl({ t: 'call', id: 3, method: 'registry.list', params: { collection: 'c' } });
    return reader.controls.some((m) => m.t === 'result' && m.id === 3 && (m.result as { entries: unknown[] }).entries.length === 0);
  });
});

/** What a broker that died leaves behind: its calls to the shared router and storage stop arriving once cut. */
function severable<T extends object>(target: T): { view: T; cut: () => void } {
  let cut = false;
  const view = new Proxy(target, {
    get(obj, key) {
      const value = Reflect.get(obj, key, obj) as unknown;
      if (typeof value !== 'function') return value;
      const method = value as (...args: unknown[]) => unknown;
      // Reads keep working (the dead broker's leftovers are still there); its writes and renewals are gone.
      return (...args: unknown[]) => (cut && !['lookup', 'read', 'page', 'ownedBy', 'revision', 'changesSince', 'subscribe'].includes(String(key)) ? Promise.resolve(undefined) : method.apply(obj, args));
    },
  });
  return { view, cut: () => (cut = true) };
}

it("a broker that dies frees its evas and its owners' entries after claimTtlMs on the shared router and storage", async () => {
  const router = new MemoryRouter();
  const bus = new MemoryBus();
  const storage = new MemoryRegistryStorage();
  const limits = { maxValueBytes: 65536, maxEntriesPerOwner: 1000, maxKeyLength: 256, maxBytesPerOwner: 1024 * 1024 };
  const dying = { router: severable(router), storage: severable(storage) };
  const one = await startBroker({ router: dying.router.view, bus, registryStore: new RegistryRules(dying.storage.view, limits), claimTtlMs: 300 });
  const two = await startBroker({ router, bus, registryStore: new RegistryRules(storage, limits), claimTtlMs: 300 });
  brokers = [one, two];
  const [frank] = await RawClient.register(one.url, 'frank');
  one.track(frank);
  frank.sendControl({ t: 'call', id: 1, method: 'registry.create', params: { collection: 'c', name: 'n', value: 1 } });
  await frank.control((m) => m.t === 'result' && m.id === 1);
  // Broker one dies: nothing it does reaches the shared router or storage any more.
  dying.router.cut();
  dying.storage.cut();
  await one.close();
  brokers = [two];
  await expect(RawClient.register(two.url, 'frank')).rejects.toThrow(String(CloseCode.EVA_IN_USE));
  // Within a few claimTtlMs the eva is free on broker two, and the entry gone with its lease (polled, with deadlines).
  const deadline = Date.now() + 10_000;
  let second: RawClient | null = null;
  while (second === null) {
    try {
      [second] = await RawClient.register(two.url, 'frank');
    } catch (err) {
      if (!String(err).includes(String(CloseCode.EVA_IN_USE))) throw err;
      if (Date.now() > deadline) throw new Error('frank was still in use on broker two 10 s after broker one died');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  two.track(second);
  while ((await storage.read({ collection: 'c', name: 'n' })) !== undefined) {
    if (Date.now() > deadline) throw new Error("the dead broker's entry was still there after 10 s");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await storage.close();
});

it('a live broker keeps renewing: its sockets keep their evas and entries long past claimTtlMs', async () => {
  const router = new MemoryRouter();
  let renewals = 0;
  const counting = new Proxy(router, {
    get: (obj, key) => (key === 'renew' ? (...args: Parameters<MemoryRouter['renew']>) => (renewals++, obj.renew(...args)) : Reflect.get(obj, key, obj)),
  });
  // A TTL that a loaded CI machine's event-loop stalls (tens to hundreds of ms) cannot outlast: a 90 ms one
  // expired under load in CI, and broker two then took the eva of a live socket.
  const [one, two] = await cluster({ router: counting, claimTtlMs: 1200 });
  const [gina] = await RawClient.register(one.url, 'gina');
  one.track(gina);
  gina.sendControl({ t: 'call', id: 1, method: 'registry.create', params: { collection: 'c', name: 'n', value: 1 } });
  await gina.control((m) => m.t === 'result' && m.id === 1);
  // Each broker renews every 400 ms: twelve renewals (six each) are two TTLs and more.
  await until('twelve renewals', 15_000, () => renewals >= 12);
  await expect(RawClient.register(two.url, 'gina')).rejects.toThrow(String(CloseCode.EVA_IN_USE));
  gina.sendControl({ t: 'call', id: 2, method: 'registry.get', params: { collection: 'c', name: 'n' } });
  expect(await gina.control((m) => m.t === 'result' && m.id === 2)).toMatchObject({ result: { entry: { value: 1 } } });
});
