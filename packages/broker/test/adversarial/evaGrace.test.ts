// Attack: steal an eva in the moment after its socket dropped. The broker used to free the eva (and remove its
// registry entries) as soon as it noticed the drop, so whoever said hello first got it, and the victim's reconnect
// was refused 4003 for good. Now an uncleanly dropped eva stays reserved for its session token for evaGraceMs:
// its peers are told `lost` at once, anyone else is refused, and the victim's reconnect gets it back with its entries.
import { trackResources } from '@vnf/conformance';
import type { RegistryChange } from '@vnf/core';
import { WebSocketRegistryClient } from '@vnf/registry';
import { WebSocketHub, WebSocketRpc } from '@vnf/websocket-hub';
import { startBroker } from '../fixture';
import type { RawClient } from '../rawClient';
import { ATTACKERS, BoundFactory, Close, HONEST, Scope, callAll, rawConnect, rawRegister, until } from './support';

let scope: Scope;
beforeEach(() => {
  scope = new Scope();
});
afterEach(() => scope.close());

/** A hello from a fresh raw socket of `address`; resolves 'welcome' (the socket is kept in the scope) or its close code. */
async function claim(url: string, address: string, eva: string, extra: Record<string, unknown> = {}): Promise<number | 'welcome'> {
  const client = scope.add(await rawConnect(url, address));
  const answer = await client.hello(eva, extra);
  if (answer.t === 'welcome') return 'welcome';
  return client.closedWithin();
}

/** Watches `collection` from an observer of its own; the changes it saw. */
async function observe(url: string, collection: string): Promise<RegistryChange[]> {
  const observer = scope.add(new WebSocketRegistryClient(new WebSocketRpc(`observer-${collection}`, new BoundFactory(url, ATTACKERS[6]))));
  const seen: RegistryChange[] = [];
  await observer.watch(collection, (change) => seen.push(change));
  return seen;
}

it("a cut victim's eva stays reserved: thieves get 4003, its WebSocketHub reconnects with its token and keeps eva and entries; peers got lost at once", async () => {
  const resources = trackResources();
  const running = scope.add(await startBroker());
  const seen = await observe(running.url, 'rooms');
  // A victim that waits a little before reconnecting: the thieves are sure to come first.
  const victimHub = scope.add(new WebSocketHub(new BoundFactory(running.url, HONEST, { reconnect: { initialDelayMs: 400, jitter: 0 } })));
  const victim = victimHub.openEndpoint('victim');
  const registry = scope.add(new WebSocketRegistryClient(victim.getWebSocketRpc()));
  expect(await registry.createEntry({ collection: 'rooms', name: 'victim-room' }, 'v1')).toBe('OK');
  const peerHub = scope.add(new WebSocketHub(new BoundFactory(running.url, HONEST)));
  const peer = peerHub.openEndpoint('victim-peer');
  await peer.firstAttempt;
  expect((await victim.openConnection(peer.eva)).status).toBe('CONNECTED');
  await until('the peer to see the connection', () => peer.isConnected('victim'));
  const events: string[] = [];
  peer.onConnectionLost((eva) => events.push(`peer lost ${eva}`));
  victim.on('offline', () => events.push('victim offline'));
  victim.on('online', () => events.push('victim online'));
  const resynced = new Promise<void>((resolve) => registry.once('resynced', resolve));

  expect(running.broker.terminate('victim')).toBe(true);
  const thefts = [
    await claim(running.url, ATTACKERS[0], 'victim'),
    await claim(running.url, ATTACKERS[0], 'victim', { role: 'rpc' }),
    await claim(running.url, ATTACKERS[1], 'victim', { session: 'A'.repeat(24) }),
  ];
  expect(thefts).toEqual([Close.EVA_IN_USE, Close.EVA_IN_USE, Close.EVA_IN_USE]);
  await until('the victim back online', () => events.includes('victim online'), 10_000, () => JSON.stringify(events));
  await resynced;
  // The peer heard at once, not after the grace or the reconnect.
  expect([...events].sort()).toEqual(['peer lost victim', 'victim offline', 'victim online']);
  expect(events.indexOf('peer lost victim')).toBeLessThan(events.indexOf('victim online'));
  expect(victim.isOnline).toBe(true);

  // Its entry never went away (its client re-wrote it, so the watcher may see an update, never a removal).
  expect(seen.filter((c) => c.type === 'removed')).toEqual([]);
  expect(await registry.getEntry({ collection: 'rooms', name: 'victim-room' })).toBe('v1');
  expect((await registry.listEntries('rooms')).map((e) => [e.name, e.owner])).toEqual([['victim-room', 'victim']]);
  const got = new Promise((resolve) => (victim.onMessage = (e) => resolve(e.message)));
  expect((await peer.openConnection('victim')).status).toBe('CONNECTED');
  peer.send('victim', 'welcome back');
  expect(await got).toBe('welcome back');

  await scope.close();
  await resources.released(5000);
});

it("killing a victim's TCP socket (no close frame) keeps its eva for its token; a raw reconnect with the token gets it and its entries back", async () => {
  const resources = trackResources();
  const running = scope.add(await startBroker());
  const [peer] = await rawRegister(running.url, 'raw-peer', HONEST);
  scope.add(peer);
  const [victim, token] = await rawRegister(running.url, 'raw-victim', HONEST);
  scope.add(victim);
  await callAll(victim, [{ method: 'registry.create', params: { collection: 'desk', name: 'raw-victim-desk', value: 42 } }], 1);
  victim.sendControl({ t: 'open', to: 'raw-peer' });
  await peer.control((m) => m.t === 'accept');

  (victim.ws as unknown as { _socket: { destroy(): void } })._socket.destroy();
  await peer.control((m) => m.t === 'lost' && m.from === 'raw-victim');
  expect(await claim(running.url, ATTACKERS[0], 'raw-victim')).toBe(Close.EVA_IN_USE);
  expect(await claim(running.url, ATTACKERS[0], 'raw-victim', { role: 'rpc' })).toBe(Close.EVA_IN_USE);

  const [back, same] = await rawRegister(running.url, 'raw-victim', HONEST, { session: token });
  scope.add(back);
  expect(same).toBe(token);
  const [got] = await callAll(back, [{ method: 'registry.get', params: { collection: 'desk', name: 'raw-victim-desk' } }], 1);
  expect(got).toMatchObject({ t: 'result', result: { entry: { value: 42, owner: 'raw-victim' } } });

  await scope.close();
  await resources.released(5000);
});

it('the grace is for unclean drops only and ends: clean closes (1000, 1001) free the eva at once, after evaGraceMs a cut one goes, with evaGraceMs 0 at once', async () => {
  const resources = trackResources();
  const running = scope.add(await startBroker({ evaGraceMs: 1500 }));
  const seen = await observe(running.url, 'grace');

  const register = async (eva: string): Promise<RawClient> => {
    const [c] = await rawRegister(running.url, eva, HONEST);
    scope.add(c);
    await callAll(c, [{ method: 'registry.create', params: { collection: 'grace', name: `${eva}-entry`, value: eva } }], 1);
    return c;
  };
  const normal = await register('leaves-1000');
  const away = await register('leaves-1001');
  const cut = await register('is-cut');

  normal.ws.close(Close.NORMAL);
  away.ws.close(Close.GOING_AWAY);
  await Promise.all([normal.closedWithin(), away.closedWithin()]);
  expect(running.broker.terminate('is-cut')).toBe(true);
  expect(await claim(running.url, ATTACKERS[0], 'is-cut')).toBe(Close.EVA_IN_USE);
  expect(await claim(running.url, ATTACKERS[0], 'leaves-1000')).toBe('welcome');
  expect(await claim(running.url, ATTACKERS[0], 'leaves-1001')).toBe('welcome');

  // Nobody came back with the token: the reservation ends, the entries are removed, the eva is free.
  await until('the cut eva to be released', () => seen.some((c) => c.type === 'removed' && c.entry.name === 'is-cut-entry'), 10_000, () =>
    JSON.stringify(seen.map((c) => [c.type, c.entry.name])),
  );
  expect(await claim(running.url, ATTACKERS[0], 'is-cut')).toBe('welcome');
  expect(seen.filter((c) => c.type === 'removed').map((c) => c.entry.name).sort()).toEqual(['is-cut-entry', 'leaves-1000-entry', 'leaves-1001-entry']);

  // evaGraceMs 0: the old behaviour, on request; a cut frees the eva and removes its entries at once.
  const noGrace = scope.add(await startBroker({ evaGraceMs: 0 }));
  const noGraceSeen = await observe(noGrace.url, 'nograce');
  const [victim] = await rawRegister(noGrace.url, 'no-grace', HONEST);
  scope.add(victim);
  await callAll(victim, [{ method: 'registry.create', params: { collection: 'nograce', name: 'e', value: 1 } }], 1);
  expect(noGrace.broker.terminate('no-grace')).toBe(true);
  await until('the entry to be removed', () => noGraceSeen.some((c) => c.type === 'removed'));
  expect(await claim(noGrace.url, ATTACKERS[0], 'no-grace')).toBe('welcome');

  await scope.close();
  await resources.released(5000);
});
