// Attack: make honest clients' own traffic knock them offline. A collection of 300 × 60 KB (18 MB) used to come
// back as one reply, past sendBufferLimit: the lister was closed as a slow consumer (4005). A watcher that cannot
// keep up with a burst of large updates was closed the same way. Now lists come in bounded pages, and a lagging
// watcher's notifications are dropped and replaced by one `registry.resync` once it drained.
import { trackResources } from '@vnf/conformance';
import { WebSocketRegistryClient } from '@vnf/registry';
import { WebSocketHub, WebSocketRpc } from '@vnf/websocket-hub';
import { startBroker } from '../fixture';
import type { RawClient } from '../rawClient';
import { ATTACKERS, BoundFactory, HONEST, Scope, callAll, rawRegister, until } from './support';

const VALUE_CHARS = 60_000;
/** 16 values of 60 KB stay below the default maxBytesPerOwner (1 MiB): the writes are spread over owners. */
const PER_OWNER = 16;

let scope: Scope;
beforeEach(() => {
  scope = new Scope();
});
afterEach(() => scope.close());

function value(owner: number, i: number, version = 0): string {
  const head = `${owner}:${i}:${version}:`;
  return head + 'x'.repeat(VALUE_CHARS - head.length);
}

/**
 * Fills `collection` with `count` entries spread over owners of PER_OWNER entries each, rpc sockets from four
 * attacker addresses: each client's control bytes are paced (maxControlBytesPerSecondPerClient), four fill faster.
 */
async function fill(url: string, collection: string, count: number): Promise<RawClient[]> {
  const owners: RawClient[] = [];
  for (let o = 0; o * PER_OWNER < count; o++) {
    const [owner] = await rawRegister(url, `${collection}-owner-${o}`, ATTACKERS[o % 4], { role: 'rpc' });
    scope.add(owner);
    owners.push(owner);
    const names = Array.from({ length: Math.min(PER_OWNER, count - o * PER_OWNER) }, (_, i) => o * PER_OWNER + i);
    const created = await callAll(
      owner,
      names.map((n) => ({ method: 'registry.create', params: { collection, name: `n${String(n).padStart(4, '0')}`, value: value(o, n) } })),
      1,
    );
    const refused = created.filter((r) => r.t !== 'result');
    if (refused.length > 0) throw new Error(`filling ${collection} was refused: ${JSON.stringify(refused[0])}`);
  }
  return owners;
}

it('an honest endpoint lists 300 entries of 60 KB (18 MB) through its own socket, page by page, and is never knocked offline', async () => {
  const resources = trackResources();
  const running = scope.add(await startBroker());
  await fill(running.url, 'big', 300);
  await fill(running.url, 'mid', 48);

  const factory = new BoundFactory(running.url, HONEST);
  const hub = scope.add(new WebSocketHub(factory));
  const lister = hub.openEndpoint('honest-lister');
  const peer = hub.openEndpoint('honest-peer');
  const offline: string[] = [];
  lister.on('offline', () => offline.push('offline'));
  const registry = new WebSocketRegistryClient(lister.getWebSocketRpc());
  scope.add(registry);

  const listed = await registry.listEntries('big').catch((err: Error) => {
    throw new Error(`${err.message} (the lister's socket closed with ${JSON.stringify(factory.closeCodes)})`);
  });
  expect(listed).toHaveLength(300);
  expect(listed.map((e) => e.name)).toEqual(Array.from({ length: 300 }, (_, n) => `n${String(n).padStart(4, '0')}`));
  expect(listed.every((e, n) => e.value === value(Math.floor(n / PER_OWNER), n))).toBe(true);

  // Still the same socket, still online: it talks to a peer right after.
  expect(offline).toEqual([]);
  expect(factory.closeCodes).toEqual([]);
  const got = new Promise((resolve) => (peer.onMessage = (e) => resolve(e.message)));
  expect((await lister.openConnection(peer.eva)).status).toBe('CONNECTED');
  lister.send(peer.eva, 'after the list');
  expect(await got).toBe('after the list');
  // Twice more at once: pages of concurrent lists share the socket's call budget without a refusal (a smaller
  // collection: the client's replies are paced at maxReplyBytesPerSecondPerClient, 4 MiB/s).
  const again = await Promise.all([registry.listEntries('mid'), registry.listEntries('mid')]);
  expect(again.map((l) => l.length)).toEqual([48, 48]);
  expect(offline).toEqual([]);

  await scope.close();
  await resources.released(5000);
}, 60_000);

it('a watcher that lags behind a burst of large updates gets a registry.resync (one per lag episode) instead of being closed as a slow consumer', async () => {
  const resources = trackResources();
  const running = scope.add(await startBroker());
  const owners = await fill(running.url, 'burst', 4 * PER_OWNER);

  const factory = new BoundFactory(running.url, HONEST);
  const rpc = new WebSocketRpc('honest-watcher', factory);
  const states: string[] = [];
  rpc.onStateChange((s) => states.push(s));
  const registry = scope.add(new WebSocketRegistryClient(rpc));
  const resyncs: string[] = [];
  registry.on('resync', (collection) => resyncs.push(collection));
  let changes = 0;
  await registry.watch('burst', () => changes++);
  await registry.watch('quiet', () => undefined);

  // The watcher stops reading; 48 MB of updates follow, far past the socket buffers and the old 16 MiB sendBufferLimit.
  factory.current.pause();
  const rounds = 12;
  let version = 0;
  for (let r = 0; r < rounds; r++) {
    version++;
    await Promise.all(
      owners.map((owner, o) =>
        callAll(
          owner,
          Array.from({ length: PER_OWNER }, (_, i) => {
            const n = o * PER_OWNER + i;
            return { method: 'registry.update', params: { collection: 'burst', name: `n${String(n).padStart(4, '0')}`, value: value(o, n, version) } };
          }),
          1000 + r * PER_OWNER,
        ),
      ),
    );
  }
  factory.current.resume();

  // Once drained, the broker says what it dropped: a resync for each watched collection (once per lag episode).
  await until('a resync event', () => resyncs.length > 0, 20_000, () => JSON.stringify({ changes, states, closes: factory.closeCodes }));
  const updates = rounds * owners.length * PER_OWNER;
  expect(changes).toBeLessThan(updates);
  // Served again: a fresh change arrives, or (still lagging behind the backlog) is covered by another resync; then retry.
  let fresh: string | null = null;
  await registry.watch('fresh', (c) => (fresh = c.entry.name));
  const [writer] = await rawRegister(running.url, 'fresh-writer', ATTACKERS[1], { role: 'rpc' });
  scope.add(writer);
  for (let attempt = 0; fresh === null; attempt++) {
    if (attempt === 20) throw new Error(`no fresh change after ${attempt} attempts: ${JSON.stringify({ resyncs, states })}`);
    const before = resyncs.length;
    await callAll(writer, [{ method: 'registry.create', params: { collection: 'fresh', name: `hello-${attempt}`, value: attempt } }], 1 + attempt);
    await until('the fresh change or a resync covering it', () => fresh !== null || resyncs.length > before);
  }
  expect(fresh).toMatch(/^hello-/);
  // Each resync notification names every watched collection.
  const count = (c: string): number => resyncs.filter((r) => r === c).length;
  expect(count('burst')).toBe(count('quiet'));
  expect(resyncs.length).toBe(count('burst') + count('quiet') + count('fresh'));
  expect(states).not.toContain('down');
  expect(factory.closeCodes).toEqual([]);
  // What it missed is there to list again.
  const listed = await registry.listEntries('burst');
  expect(listed.every((e, n) => e.value === value(Math.floor(n / PER_OWNER), n, version))).toBe(true);

  await scope.close();
  await resources.released(5000);
}, 60_000);
