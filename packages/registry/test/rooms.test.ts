// Room collections (docs/coordination.md, Room collections): presence entries written by their own eva only, state
// entries written retained by members only, a per-room quota, and the state removed a while after the last member
// left. The same rules in InBrowserRegistry and through a real broker on 127.0.0.1.
import { Broker } from '@vnf/broker';
import { trackResources, waitFor } from '@vnf/conformance';
import { Global, VnfError, defaultAuthorize, type RegistryAuthorize, type RegistryChange, type RegistryClient, type RegistryKey } from '@vnf/core';
import {
  DEFAULT_MAX_ROOM_STATE_BYTES,
  DEFAULT_MAX_ROOM_STATE_ENTRIES,
  DEFAULT_ROOM_STATE_TTL_MS,
  InBrowserRegistry,
  MemoryRegistryStore,
  ROOM_COLLECTION_PREFIX,
  WebSocketRegistryClient,
  type MemoryRegistryStoreOptions,
} from '@vnf/registry';
import { WebSocketFactory, WebSocketRpc, type VnfSocket } from '@vnf/websocket-hub';

const WAIT_MS = 5_000;
/** Short, so that expiry tests end soon; what matters is the order of events, never this duration. */
const TTL_MS = 50;

interface Fixture {
  connect(eva: string): RegistryClient;
  /** Ends the client as a lost channel past its grace: its entries go. */
  drop(client: RegistryClient): Promise<void>;
  close(): Promise<void>;
}

interface FixtureOptions {
  limits?: MemoryRegistryStoreOptions;
  authorize?: RegistryAuthorize;
}

function inBrowser({ limits = {}, authorize }: FixtureOptions): Fixture {
  const store = new MemoryRegistryStore(limits);
  const registry = new InBrowserRegistry({ store, ...(authorize && { authorize }) });
  const clients: RegistryClient[] = [];
  return {
    connect(eva) {
      const client = registry.connect(eva);
      clients.push(client);
      return client;
    },
    drop: (client) => registry.drop(client),
    async close() {
      await Promise.all(clients.map((client) => client.close()));
      await store.close();
    },
  };
}

/** Nothing listens there: a socket to it fails at once. */
const NOWHERE = new WebSocketFactory('ws://127.0.0.1:1/');

/** A factory whose sockets go nowhere once `blocked`: a dropped client stays away (its entries go after the grace). */
class GatedFactory extends WebSocketFactory {
  blocked = false;

  override create(): VnfSocket {
    return this.blocked ? NOWHERE.create() : super.create();
  }
}

async function overBroker({ limits, authorize }: FixtureOptions): Promise<Fixture> {
  const broker = new Broker({ evaGraceMs: 50, ...(limits && { registry: limits }), ...(authorize && { authorize }) });
  const { url } = await broker.listen({ port: 0, host: '127.0.0.1' });
  const clients: RegistryClient[] = [];
  const factories = new Map<RegistryClient, GatedFactory>();
  return {
    connect(eva) {
      const factory = new GatedFactory(url, { reconnect: { initialDelayMs: 20, maxDelayMs: 200 } });
      const client = new WebSocketRegistryClient(new WebSocketRpc(eva, factory));
      clients.push(client);
      factories.set(client, factory);
      return client;
    },
    async drop(client) {
      factories.get(client)!.blocked = true;
      const down = waitFor(`${client.owner} down`, WAIT_MS, (done) => (client as WebSocketRegistryClient).once('down', () => done(undefined)));
      if (!broker.terminate(client.owner, 'rpc')) throw new Error(`no socket of ${client.owner} to cut`);
      await down;
    },
    async close() {
      await Promise.all(clients.map((client) => client.close()));
      await broker.close();
    },
  };
}

/** The changes a watch was told, and a way to wait for the one a test expects. */
class Changes {
  readonly seen: RegistryChange[] = [];
  private waiting: Array<() => void> = [];

  readonly watcher = (change: RegistryChange): void => {
    this.seen.push(change);
    for (const check of [...this.waiting]) check();
  };

  /** Resolves once a change `type:name` was told, or rejects after WAIT_MS listing what was. */
  until(what: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (!this.seen.some((change) => `${change.type}:${change.entry.name}` === what)) return;
        clearTimeout(timer);
        this.waiting = this.waiting.filter((c) => c !== check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiting = this.waiting.filter((c) => c !== check);
        reject(new Error(`no ${what} within ${WAIT_MS} ms; told: ${this.described().join(', ')}`));
      }, WAIT_MS);
      this.waiting.push(check);
      check();
    });
  }

  described(): string[] {
    return this.seen.map((change) => `${change.type}:${change.entry.name}`);
  }
}

async function rejection(promise: Promise<unknown>): Promise<VnfError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof VnfError) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

const fixtures: Array<[string, (options: FixtureOptions) => Fixture | Promise<Fixture>]> = [
  ['InBrowserRegistry', inBrowser],
  ['WebSocketRegistryClient over a broker', overBroker],
];

describe('room collections: constants and defaults', () => {
  it('names the prefix and the defaults, and refuses a bad option', () => {
    expect(ROOM_COLLECTION_PREFIX).toBe('vnf.room:');
    const store = new MemoryRegistryStore();
    expect([store.maxRoomStateEntries, store.maxRoomStateBytes, store.roomStateTtlMs]).toEqual([256, 64 * 1024, 60_000]);
    expect([DEFAULT_MAX_ROOM_STATE_ENTRIES, DEFAULT_MAX_ROOM_STATE_BYTES, DEFAULT_ROOM_STATE_TTL_MS]).toEqual([256, 64 * 1024, 60_000]);
    for (const bad of [{ roomStateTtlMs: 0 }, { maxRoomStateEntries: -1 }, { maxRoomStateBytes: 1.5 }, { roomStateTtl: 5 }]) {
      expect(() => new MemoryRegistryStore(bad as MemoryRegistryStoreOptions)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
  });
});

describe.each(fixtures)('room collections: %s', (_name, create) => {
  /** Runs a test on a fresh fixture, then closes it and checks that nothing it opened is left alive. */
  const withFixture = (options: FixtureOptions, body: (f: Fixture) => Promise<void>) => async (): Promise<void> => {
    const resources = trackResources();
    const f = await create(options);
    try {
      await body(f);
    } finally {
      await f.close();
    }
    await resources.released(WAIT_MS);
  };

  const room = (name: string): string => `${ROOM_COLLECTION_PREFIX}${name}`;
  const member = (collection: string, eva: string): RegistryKey => ({ collection, name: `m:${eva}` });
  const state = (collection: string, key: string): RegistryKey => ({ collection, name: `s:${key}` });
  const join = (client: RegistryClient, collection: string) => client.write(member(collection, client.owner), { at: 'here' });

  it('lets an eva write its own presence entry, never another eva\'s, and never retained; other names are refused', withFixture({}, async (f) => {
    const alice = f.connect('alice');
    const bob = f.connect('bob');
    const r = room('lobby');
    expect(await join(alice, r)).toMatchObject({ status: Global.OK, version: 1 });
    // Nobody removes another's presence either (by default: a hook may allow a moderator to).
    expect((await rejection(bob.remove(member(r, 'alice')))).code).toBe('FORBIDDEN');
    expect((await rejection(bob.deleteEntry(member(r, 'alice')))).code).toBe('FORBIDDEN');
    expect(await alice.listEntries(r)).toEqual([{ collection: r, name: 'm:alice', value: { at: 'here' }, owner: 'alice', version: 1 }]);
    const forged = await rejection(alice.write(member(r, 'bob'), {}));
    expect(forged.code).toBe('FORBIDDEN');
    expect(forged.message).toMatch(/m:<eva> is written only by that eva/);
    expect((await rejection(alice.createEntry(member(r, 'bob'), {}))).code).toBe('FORBIDDEN');
    expect((await rejection(alice.write(member(r, 'alice'), {}, { retain: true }))).code).toBe('INVALID_ARGUMENT');
    expect((await rejection(alice.write(member(r, 'alice'), {}, { will: { value: 'gone' } }))).code).toBe('INVALID_ARGUMENT');
    expect((await rejection(alice.write({ collection: r, name: 'topic' }, 'x'))).code).toBe('INVALID_ARGUMENT');
    expect((await rejection(alice.write({ collection: r, name: 'm:' }, 'x'))).code).toBe('INVALID_ARGUMENT');
    // Its own entry as any owned one: updated, removed with a condition, taken again with a will that removes it.
    expect(await alice.updateEntry(member(r, 'alice'), { at: 'there' })).toBe(Global.OK);
    expect(await alice.remove(member(r, 'alice'), { when: { version: 2 } })).toMatchObject({ status: Global.OK });
    expect(await alice.write(member(r, 'alice'), {}, { when: null, will: { remove: true } })).toMatchObject({ status: Global.OK });
    expect((await alice.listEntries(r)).map((e) => e.name)).toEqual(['m:alice']);
  }));

  it('lets members write state retained, replace and remove what another member wrote; refuses non-members', withFixture({}, async (f) => {
    const alice = f.connect('alice');
    const bob = f.connect('bob');
    const carol = f.connect('carol');
    const r = room('kitchen');
    const outsider = await rejection(carol.write(state(r, 'topic'), 'hi', { retain: true }));
    expect(outsider.code).toBe('FORBIDDEN');
    expect(outsider.message).toMatch(/join the room first/i);
    await join(alice, r);
    await join(bob, r);
    expect(await alice.write(state(r, 'topic'), 'cooking', { retain: true })).toMatchObject({ status: Global.OK, version: 1 });
    expect(await carol.listEntries(r)).toContainEqual({ collection: r, name: 's:topic', value: 'cooking', owner: 'alice', version: 1, retained: true });
    expect((await rejection(carol.write(state(r, 'topic'), 'mine', { retain: true }))).code).toBe('FORBIDDEN');
    expect((await rejection(carol.remove(state(r, 'topic')))).code).toBe('FORBIDDEN');
    expect((await rejection(carol.deleteEntry(state(r, 'topic')))).code).toBe('FORBIDDEN');
    // State is retained, written with write: a plain write, createEntry and updateEntry are refused.
    expect((await rejection(alice.write(state(r, 'plain'), 1))).code).toBe('INVALID_ARGUMENT');
    expect((await rejection(alice.createEntry(state(r, 'plain'), 1))).code).toBe('INVALID_ARGUMENT');
    expect((await rejection(alice.updateEntry(state(r, 'topic'), 1))).code).toBe('INVALID_ARGUMENT');
    // Compare-and-set among members: `when` on the version read.
    expect(await bob.write(state(r, 'topic'), 'baking', { retain: true, when: { version: 1 } })).toMatchObject({ status: Global.OK, version: 2 });
    expect(await alice.write(state(r, 'topic'), 'late', { retain: true, when: { version: 1 } })).toMatchObject({ status: Global.CONFLICT, version: 2 });
    expect(await alice.write(state(r, 'lock'), 'alice', { retain: true, when: null })).toMatchObject({ status: Global.OK });
    expect(await bob.write(state(r, 'lock'), 'bob', { retain: true, when: null })).toMatchObject({ status: Global.CONFLICT });
    expect(await bob.remove(state(r, 'lock'), { when: { fields: {} } })).toMatchObject({ status: Global.CONFLICT });
    expect(await bob.remove(state(r, 'lock'))).toMatchObject({ status: Global.OK });
    expect(await carol.getEntry(state(r, 'topic'))).toBe('baking');
    // Leaving: the state stays while a member stays, and the one who left may not write it any more.
    await bob.remove(member(r, 'bob'));
    expect((await rejection(bob.write(state(r, 'topic'), 'after', { retain: true }))).code).toBe('FORBIDDEN');
    await bob.close();
    const [topic] = (await carol.listEntries(r)).filter((e) => e.name === 's:topic');
    expect(topic).toEqual({ collection: r, name: 's:topic', value: 'baking', owner: 'bob', version: 2, retained: true });
    expect(await alice.write(state(r, 'topic'), 'done', { retain: true })).toMatchObject({ status: Global.OK, version: 3 });
  }));

  it('lets a member wait for a state entry another member holds (retained compare-and-set with wait)', withFixture({}, async (f) => {
    const alice = f.connect('alice');
    const bob = f.connect('bob');
    const r = room('queue');
    await join(alice, r);
    await join(bob, r);
    await alice.write(state(r, 'turn'), 'alice', { retain: true, when: null });
    const taken = bob.write(state(r, 'turn'), 'bob', { retain: true, when: null, wait: true, timeoutMs: WAIT_MS });
    const watched = new Changes();
    await alice.watch(r, watched.watcher, { snapshot: false });
    await alice.remove(state(r, 'turn'));
    expect(await taken).toMatchObject({ status: Global.OK, version: 1 });
    await watched.until('added:s:turn');
    expect(await alice.getEntry(state(r, 'turn'))).toBe('bob');
  }));

  it('counts state against the room quota: TOO_LARGE past its entries or bytes; replacing an entry at the limit passes', withFixture({ limits: { maxRoomStateEntries: 3, maxRoomStateBytes: 40 } }, async (f) => {
    const alice = f.connect('alice');
    const r = room('small');
    await join(alice, r);
    for (const key of ['a', 'b', 'c']) await alice.write(state(r, key), 1, { retain: true });
    const full = await rejection(alice.write(state(r, 'd'), 1, { retain: true }));
    expect(full.code).toBe('TOO_LARGE');
    expect(full.message).toMatch(/already holds 3 state entries.*maxRoomStateEntries/);
    expect(await alice.write(state(r, 'a'), 2, { retain: true })).toMatchObject({ status: Global.OK, version: 2 });
    const big = await rejection(alice.write(state(r, 'a'), 'x'.repeat(40), { retain: true }));
    expect(big.code).toBe('TOO_LARGE');
    expect(big.message).toMatch(/bytes of state values.*maxRoomStateBytes/);
    // The quota is the room's: another room, and presence entries, are not counted in it.
    const other = room('other');
    await join(alice, other);
    expect(await alice.write(state(other, 'd'), 1, { retain: true })).toMatchObject({ status: Global.OK });
  }));

  it('removes the state a ttl after the last member left, telling watchers; a member leaving while others stay removes nothing', withFixture({ limits: { roomStateTtlMs: TTL_MS } }, async (f) => {
    const alice = f.connect('alice');
    const bob = f.connect('bob');
    const watcher = f.connect('watcher');
    const r = room('expiring');
    await join(alice, r);
    await join(bob, r);
    await alice.write(state(r, 'a'), 1, { retain: true });
    await bob.write(state(r, 'b'), 2, { retain: true });
    const changes = new Changes();
    await watcher.watch(r, changes.watcher);
    await alice.close();
    await changes.until('removed:m:alice');
    // bob stays: the state stays past the ttl. Shown by a second room emptied later, whose expiry comes after it.
    const clock = room('clock');
    const clockChanges = new Changes();
    await watcher.watch(clock, clockChanges.watcher);
    await join(watcher, clock);
    await watcher.write(state(clock, 'tick'), 0, { retain: true });
    await watcher.remove(member(clock, 'watcher'));
    await clockChanges.until('removed:s:tick');
    expect((await watcher.listEntries(r)).map((e) => e.name)).toEqual(['m:bob', 's:a', 's:b']);
    // The last member goes: after the ttl, every state entry goes, each told to watchers.
    await bob.remove(member(r, 'bob'));
    await changes.until('removed:s:a');
    await changes.until('removed:s:b');
    expect(await watcher.listEntries(r)).toEqual([]);
    expect(changes.described()).toEqual(['removed:m:alice', 'removed:m:bob', 'removed:s:a', 'removed:s:b']);
  }));

  it('keeps the state when a member joins before the ttl ran out, and removes it after that member left in turn', withFixture({ limits: { roomStateTtlMs: TTL_MS } }, async (f) => {
    const alice = f.connect('alice');
    const watcher = f.connect('watcher');
    const r = room('rejoined');
    await join(alice, r);
    await alice.write(state(r, 'kept'), 'yes', { retain: true });
    const changes = new Changes();
    await watcher.watch(r, changes.watcher);
    await alice.remove(member(r, 'alice'));
    await join(alice, r);
    // A room emptied after the rejoin: its state goes a ttl later, after the first room's countdown would have ended.
    const clock = room('clock');
    const clockChanges = new Changes();
    await watcher.watch(clock, clockChanges.watcher);
    await join(watcher, clock);
    await watcher.write(state(clock, 'tick'), 0, { retain: true });
    await watcher.remove(member(clock, 'watcher'));
    await clockChanges.until('removed:s:tick');
    expect(await watcher.getEntry(state(r, 'kept'))).toBe('yes');
    await alice.close();
    await changes.until('removed:s:kept');
    expect(changes.described()).toEqual(['removed:m:alice', 'added:m:alice', 'removed:m:alice', 'removed:s:kept']);
  }));

  it('counts a member whose channel was lost as gone: its presence goes, then the state after the ttl', withFixture({ limits: { roomStateTtlMs: TTL_MS } }, async (f) => {
    const alice = f.connect('alice');
    const watcher = f.connect('watcher');
    const r = room('dropped');
    await join(alice, r);
    await alice.write(state(r, 'left-behind'), true, { retain: true });
    const changes = new Changes();
    await watcher.watch(r, changes.watcher);
    await f.drop(alice);
    await changes.until('removed:s:left-behind');
    expect(changes.described()).toEqual(['removed:m:alice', 'removed:s:left-behind']);
  }));

  it("asks the authorize hook about joins (resource.room) and members' state writes (resource.roomMember)", async () => {
    const asked: unknown[] = [];
    const authorize: RegistryAuthorize = (subject, action, resource) => {
      if (action === 'write' && resource.room !== undefined) asked.push({ eva: subject.eva, ...resource });
      // Only alice may join "vip"; nobody writes the state key "frozen"; the rest as by default.
      const joining = action === 'write' && resource.room === 'vip' && resource.name === `m:${subject.eva}` && resource.owner === undefined;
      if (joining && subject.eva !== 'alice') return false;
      if (action === 'write' && resource.roomMember && resource.name === 's:frozen') return false;
      return defaultAuthorize(subject, action, resource);
    };
    await withFixture({ authorize }, async (f) => {
      const alice = f.connect('alice');
      const bob = f.connect('bob');
      const vip = room('vip');
      const refused = await rejection(join(bob, vip));
      expect(refused.code).toBe('FORBIDDEN');
      expect(refused.message).toMatch(/does not let bob join room "vip"/);
      expect(await join(bob, room('lobby'))).toMatchObject({ status: Global.OK });
      expect(await join(alice, vip)).toMatchObject({ status: Global.OK });
      expect(await alice.write(state(vip, 'topic'), 'secret', { retain: true })).toMatchObject({ status: Global.OK });
      const frozen = await rejection(alice.write(state(vip, 'frozen'), 1, { retain: true }));
      expect(frozen.code).toBe('FORBIDDEN');
      expect(frozen.message).toMatch(/refused this member of room "vip" writing its state/);
      expect(asked).toContainEqual({ eva: 'bob', collection: vip, name: 'm:bob', room: 'vip', retained: false });
      expect(asked).toContainEqual({ eva: 'alice', collection: vip, name: 's:topic', room: 'vip', retained: true, roomMember: true });
      expect((await alice.listEntries(vip)).map((e) => e.name)).toEqual(['m:alice', 's:topic']);
    })();
  });
});

describe('room collections: closing the store', () => {
  it('stops a pending countdown when the store closes: the state stays past the ttl', async () => {
    const resources = trackResources();
    const emptied = async (store: MemoryRegistryStore, collection: string): Promise<void> => {
      const alice = new InBrowserRegistry({ store }).connect('alice');
      await alice.write({ collection, name: 'm:alice' }, {});
      await alice.write({ collection, name: 's:x' }, 1, { retain: true });
      await alice.close();
    };
    const closed = new MemoryRegistryStore({ roomStateTtlMs: TTL_MS });
    const r = `${ROOM_COLLECTION_PREFIX}closing`;
    await emptied(closed, r);
    await closed.close();
    // A second store emptied later, with the same ttl, as the clock: its state goes after the first one's would have.
    const clock = new MemoryRegistryStore({ roomStateTtlMs: TTL_MS });
    const changes = new Changes();
    await clock.watch(r, changes.watcher);
    await emptied(clock, r);
    await changes.until('removed:s:x');
    await clock.close();
    expect((await closed.list(r)).map((e) => e.name)).toEqual(['s:x']);
    await resources.released(WAIT_MS);
  });
});
