// The lifetime of an eva (docs/security.md): peers hear `lost` at once; a clean close frees the eva at once; an
// unclean drop keeps it, and its registry entries, reserved for its session token for evaGraceMs.
import { until } from '@vnf/conformance';
import { WebSocketRegistryClient } from '@vnf/registry';
import { CloseCode, WebSocketFactory, WebSocketHub } from '@vnf/websocket-hub';
import { startBroker, type Running } from './fixture';
import { RawClient } from './rawClient';

let running: Running;
const hubs: WebSocketHub[] = [];
afterEach(async () => {
  await Promise.all(hubs.splice(0).map((hub) => hub.close()));
  await running?.close();
});

async function register(eva: string, extra: Record<string, unknown> = {}): Promise<[RawClient, string]> {
  const [client, session] = await RawClient.register(running.url, eva, extra);
  running.track(client);
  return [client, session];
}

async function helloCode(eva: string, extra: Record<string, unknown> = {}): Promise<number | 'welcome'> {
  const client = running.track(await RawClient.connect(running.url));
  const answer = await client.hello(eva, extra);
  return answer.t === 'welcome' ? 'welcome' : await client.closedWithin();
}

function call(client: RawClient, id: number, method: string, params: unknown): Promise<unknown> {
  client.sendControl({ t: 'call', id, method, params });
  return client.control((m) => (m.t === 'result' || m.t === 'failure') && m.id === id);
}

describe('the lifetime of an eva', () => {
  it('an unclean drop: peers get lost at once, the eva is refused to others, its token takes it back with its entries', async () => {
    running = await startBroker({ evaGraceMs: 60_000 });
    const [victim, session] = await register('victim');
    const [peer] = await register('peer');
    peer.sendControl({ t: 'open', to: 'victim' });
    await peer.control((m) => m.t === 'opened');
    await call(victim, 1, 'registry.create', { collection: 'c', name: 'mine', value: 1 });

    expect(running.broker.terminate('victim')).toBe(true);
    await peer.control((m) => m.t === 'lost' && m.from === 'victim');
    expect(running.broker.reservedCount).toBe(1);
    expect(await helloCode('victim')).toBe(CloseCode.EVA_IN_USE);
    // A peer cannot reach it meanwhile: the eva is reserved, not routable.
    peer.sendControl({ t: 'open', to: 'victim' });
    expect(await peer.control((m) => m.t === 'refused')).toMatchObject({ code: 'NOT_FOUND' });

    const [back, same] = await register('victim', { session });
    expect(same).toBe(session);
    expect(running.broker.reservedCount).toBe(0);
    expect(await call(back, 2, 'registry.get', { collection: 'c', name: 'mine' })).toMatchObject({ t: 'result', result: { entry: { owner: 'victim', value: 1 } } });
  });

  it('a clean close frees the eva and its entries at once', async () => {
    running = await startBroker({ evaGraceMs: 60_000 });
    const [owner] = await register('leaver');
    const [reader] = await register('reader');
    await call(owner, 1, 'registry.create', { collection: 'c', name: 'e', value: 1 });
    await call(reader, 1, 'registry.watch', { collection: 'c', watchId: 'w' });
    owner.ws.close(1000);
    await reader.control((m) => m.t === 'notify' && (m.params as { type?: string }).type === 'removed');
    expect(await helloCode('leaver')).toBe('welcome');
    expect(running.broker.reservedCount).toBe(0);
  });

  it('when the grace ends with no reconnect, the eva is free and its entries are gone', async () => {
    running = await startBroker({ evaGraceMs: 150 });
    const [victim] = await register('brief');
    const [reader] = await register('reader');
    await call(victim, 1, 'registry.create', { collection: 'c', name: 'e', value: 1 });
    running.broker.terminate('brief');
    await until('the grace to end', 5000, () => running.broker.reservedCount === 0);
    expect(await call(reader, 2, 'registry.list', { collection: 'c' })).toMatchObject({ result: { entries: [] } });
    expect(await helloCode('brief')).toBe('welcome');
  });

  it('evaGraceMs 0: the eva is free at once after an unclean drop', async () => {
    running = await startBroker({ evaGraceMs: 0 });
    await register('gone');
    running.broker.terminate('gone');
    expect(running.broker.reservedCount).toBe(0);
    expect(await helloCode('gone')).toBe('welcome');
  });

  it('a WebSocketHub endpoint whose socket is cut keeps its eva against a thief and reconnects to it, its registry entries kept', async () => {
    running = await startBroker({ evaGraceMs: 60_000 });
    const factory = new WebSocketFactory(running.url, { reconnect: { initialDelayMs: 200, maxDelayMs: 400 } });
    const hub = new WebSocketHub(factory);
    hubs.push(hub);
    const victim = hub.openEndpoint('alice');
    await victim.firstAttempt;
    const registry = new WebSocketRegistryClient(victim.getWebSocketRpc());
    await registry.createEntry({ collection: 'c', name: 'alice' }, 'here');
    const events: string[] = [];
    victim.on('offline', () => events.push('offline'));
    victim.on('online', () => events.push('online'));

    running.broker.terminate('alice');
    // The thief's hello lands before the victim's reconnect (its backoff is at least 200 ms).
    expect(await helloCode('alice')).toBe(CloseCode.EVA_IN_USE);
    await until('alice back online', 10_000, () => events.includes('online'));
    expect(events).toEqual(['offline', 'online']);
    expect(await registry.getEntry({ collection: 'c', name: 'alice' })).toBe('here');
    await registry.close();
  });
});

describe('a session token kept in a sessionStore (a reloaded tab)', () => {
  function memoryStore(): Map<string, string> & { getItem(k: string): string | null; setItem(k: string, v: string): void; removeItem(k: string): void } {
    const map = new Map<string, string>() as Map<string, string> & { getItem(k: string): string | null; setItem(k: string, v: string): void; removeItem(k: string): void };
    map.getItem = (k) => map.get(k) ?? null;
    map.setItem = (k, v) => void map.set(k, v);
    map.removeItem = (k) => void map.delete(k);
    return map;
  }

  it('a tab whose socket died uncleanly and is reloaded proves the stored token and gets its eva back; destroy forgets it', async () => {
    running = await startBroker({ evaGraceMs: 60_000 });
    const store = memoryStore();
    // The first page: it never reconnects by itself within the test (its page is gone).
    const first = new WebSocketHub(new WebSocketFactory(running.url, { sessionStore: store, reconnect: { initialDelayMs: 600_000, maxDelayMs: 600_000 } }));
    hubs.push(first);
    const before = first.openEndpoint('tab');
    await before.firstAttempt;
    const token = [...store.values()][0];
    expect(store.size).toBe(1);
    running.broker.terminate('tab');
    await until('the eva to be reserved', 5000, () => running.broker.reservedCount === 1);

    // Someone without the token is refused; the reloaded page with it is welcomed.
    const stranger = new WebSocketHub(new WebSocketFactory(running.url));
    hubs.push(stranger);
    const refused = stranger.openEndpoint('tab');
    const errors: string[] = [];
    refused.on('error', (e) => errors.push(e.code));
    await refused.firstAttempt;
    expect(errors).toEqual(['EVA_IN_USE']);

    const reloaded = new WebSocketHub(new WebSocketFactory(running.url, { sessionStore: store }));
    hubs.push(reloaded);
    const after = reloaded.openEndpoint('tab');
    await after.firstAttempt;
    expect(after.isOnline).toBe(true);
    expect([...store.values()]).toEqual([token]);
    after.destroy();
    expect(store.size).toBe(0);
  });

  it('a sessionStore without the Storage methods is refused at construction', () => {
    expect(() => new WebSocketFactory('ws://127.0.0.1:1/x', { sessionStore: {} as never })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});
