// Attack: speak for someone else's eva through the other role. Endpoint and rpc sockets used to be separate
// namespaces, so `new WebSocketRpc('alice', factory)` was welcomed as the registry owner `alice` while alice's
// endpoint was live, and could rewrite or delete her entries. Now one session speaks for an eva: a socket of the
// other role joins only with that session's token (the one in the holder's welcome), in either arrival order.
import { trackResources } from '@vnf/conformance';
import { VnfError, type RegistryChange } from '@vnf/core';
import { WebSocketRegistryClient } from '@vnf/registry';
import { WebSocketHub, WebSocketRpc } from '@vnf/websocket-hub';
import { startBroker } from '../fixture';
import { ATTACKERS, BoundFactory, Close, HONEST, Scope, callAll, rawConnect, rawRegister, until } from './support';

let scope: Scope;
beforeEach(() => {
  scope = new Scope();
});
afterEach(() => scope.close());

async function rejection(what: string, promise: Promise<unknown>): Promise<VnfError> {
  let value: unknown;
  try {
    value = await promise;
  } catch (err) {
    return err as VnfError;
  }
  throw new Error(`expected ${what} to be refused, but it resolved ${JSON.stringify(value)}`);
}

/** A hello from a fresh raw socket; resolves the close code it earned, or 'welcome'. */
async function helloOutcome(url: string, address: string, eva: string, extra: Record<string, unknown>): Promise<number | 'welcome'> {
  const client = scope.add(await rawConnect(url, address));
  const answer = await client.hello(eva, extra);
  if (answer.t === 'welcome') return 'welcome';
  return client.closedWithin();
}

it("while endpoint alice is live, new WebSocketRpc('alice') is refused EVA_IN_USE (4003) and cannot touch her entries; her getWebSocketRpc keeps working", async () => {
  const resources = trackResources();
  const running = scope.add(await startBroker());
  const aliceFactory = new BoundFactory(running.url, HONEST);
  const hub = scope.add(new WebSocketHub(aliceFactory));
  const alice = hub.openEndpoint('alice');
  const registry = scope.add(new WebSocketRegistryClient(alice.getWebSocketRpc()));
  expect(await registry.createEntry({ collection: 'profiles', name: 'alice' }, { name: 'Alice' })).toBe('OK');
  const observer = scope.add(new WebSocketRegistryClient(new WebSocketRpc('observer', new BoundFactory(running.url, ATTACKERS[1]))));
  const seen: RegistryChange[] = [];
  await observer.watch('profiles', (change) => seen.push(change));

  const errors: VnfError[] = [];
  const thiefFactory = new BoundFactory(running.url, ATTACKERS[0]);
  const thief = scope.add(new WebSocketRegistryClient(new WebSocketRpc('alice', thiefFactory, { onError: (e) => errors.push(e) })));
  // One after the other, so that on a broker without the rule the first one to pass is the overwrite.
  const attempts = [
    await rejection("the thief's update of alice's entry", thief.updateEntry({ collection: 'profiles', name: 'alice' }, { name: 'Mallory' })),
    await rejection("the thief's delete of alice's entry", thief.deleteEntry({ collection: 'profiles', name: 'alice' })),
    await rejection("the thief's create as alice", thief.createEntry({ collection: 'profiles', name: 'alice-admin' }, true)),
    await rejection("the thief's watch as alice", thief.watch('profiles', () => undefined)),
  ];
  expect(attempts.map((e) => e.code)).toEqual(['EVA_IN_USE', 'EVA_IN_USE', 'EVA_IN_USE', 'EVA_IN_USE']);
  expect(thiefFactory.closeCodes).toEqual([Close.EVA_IN_USE]);
  expect(errors.map((e) => [e.code, (e.details as { closeCode?: number } | undefined)?.closeCode])).toEqual([['EVA_IN_USE', Close.EVA_IN_USE]]);

  // Alice's entry is untouched, and her own channel (and a second Rpc on the same socket) still serves her.
  expect(await registry.getEntry({ collection: 'profiles', name: 'alice' })).toEqual({ name: 'Alice' });
  expect(await registry.updateEntry({ collection: 'profiles', name: 'alice' }, { name: 'Alice', v: 2 })).toBe('OK');
  const second = scope.add(new WebSocketRegistryClient(alice.getWebSocketRpc()));
  const listed = await second.listEntries('profiles');
  expect(listed.map((e) => [e.name, e.owner, e.value])).toEqual([['alice', 'alice', { name: 'Alice', v: 2 }]]);
  await until('the observer to see her update', () => seen.length > 0);
  expect(seen.map((c) => [c.type, c.entry.name, c.entry.owner])).toEqual([['updated', 'alice', 'alice']]);
  expect(aliceFactory.sockets).toHaveLength(1);
  expect(aliceFactory.closeCodes).toEqual([]);

  await scope.close();
  await resources.released(5000);
});

it("an rpc socket joins a live endpoint's eva only with that endpoint's session token, and then shares its session", async () => {
  const resources = trackResources();
  const running = scope.add(await startBroker());
  const [carol, token] = await rawRegister(running.url, 'carol', HONEST);
  scope.add(carol);
  const [mallory, otherToken] = await rawRegister(running.url, 'mallory', ATTACKERS[0]);
  scope.add(mallory);

  expect(await helloOutcome(running.url, ATTACKERS[0], 'carol', { role: 'rpc' })).toBe(Close.EVA_IN_USE);
  expect(await helloOutcome(running.url, ATTACKERS[0], 'carol', { role: 'rpc', session: 'Zm9yZ2VkLXNlc3Npb24tdG9rZW4' })).toBe(Close.EVA_IN_USE);
  expect(await helloOutcome(running.url, ATTACKERS[0], 'carol', { role: 'rpc', session: otherToken })).toBe(Close.EVA_IN_USE);
  expect(await helloOutcome(running.url, ATTACKERS[0], 'carol', { role: 'rpc', session: token.slice(0, -1) })).toBe(Close.EVA_IN_USE);

  const [rpc, shared] = await rawRegister(running.url, 'carol', HONEST, { role: 'rpc', session: token });
  scope.add(rpc);
  expect(shared).toBe(token);
  const [created, listed] = await callAll(rpc, [
    { method: 'registry.create', params: { collection: 'c', name: 'mine', value: 1 } },
    { method: 'registry.list', params: { collection: 'c' } },
  ], 1);
  expect(created).toMatchObject({ t: 'result' });
  expect(listed).toMatchObject({ t: 'result', result: { entries: [{ name: 'mine', owner: 'carol' }] } });
  // Her endpoint socket was not disturbed by any of it.
  expect(carol.closeCode).toBeNull();
  expect(rpc.closeCode).toBeNull();

  await scope.close();
  await resources.released(5000);
});

it('an rpc socket holding bob blocks an endpoint hello for bob without its token (4003), raw or from a WebSocketHub', async () => {
  const resources = trackResources();
  const running = scope.add(await startBroker());
  const [bobRpc, token] = await rawRegister(running.url, 'bob', HONEST, { role: 'rpc' });
  scope.add(bobRpc);
  const [created] = await callAll(bobRpc, [{ method: 'registry.create', params: { collection: 'b', name: 'bob-entry', value: 'bob' } }], 1);
  expect(created).toMatchObject({ t: 'result' });

  expect(await helloOutcome(running.url, ATTACKERS[0], 'bob', {})).toBe(Close.EVA_IN_USE);
  expect(await helloOutcome(running.url, ATTACKERS[0], 'bob', { session: 'x'.repeat(24) })).toBe(Close.EVA_IN_USE);
  const squatterFactory = new BoundFactory(running.url, ATTACKERS[0]);
  const squatterHub = scope.add(new WebSocketHub(squatterFactory));
  const squatter = squatterHub.openEndpoint('bob');
  const failure = new Promise<VnfError>((resolve) => squatter.on('error', resolve));
  expect((await failure).code).toBe('EVA_IN_USE');
  expect(squatterFactory.closeCodes).toEqual([Close.EVA_IN_USE]);
  expect(squatter.isOnline).toBe(false);

  // With the token, bob's own endpoint joins the session; the rpc socket goes on.
  const [bobEndpoint, shared] = await rawRegister(running.url, 'bob', HONEST, { session: token });
  scope.add(bobEndpoint);
  expect(shared).toBe(token);
  const [listed] = await callAll(bobRpc, [{ method: 'registry.list', params: { collection: 'b' } }], 10);
  expect(listed).toMatchObject({ t: 'result', result: { entries: [{ name: 'bob-entry', owner: 'bob' }] } });
  expect(bobRpc.closeCode).toBeNull();

  await scope.close();
  await resources.released(5000);
});
