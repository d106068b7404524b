import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { Global, type RegistryChange, type RegistryClient, type RegistryKey, type RegistryWatchEvent } from '@vnf/core';
import { registryCoordinationConformance } from './registryCoordinationConformance';
import { Recorder, attempt, describeChange, expectCode } from './registryHelpers';

/** One registry shared by the clients of one test. */
export interface RegistryFixture {
  /** A client owned by `eva` on this registry. */
  connect(eva: string): RegistryClient | Promise<RegistryClient>;
  /**
   * Another client of `eva` while one from `connect(eva)` is open: several clients may speak for one owner
   * (`InBrowserRegistry.connect` twice; over the broker, several `endpoint.getWebSocketRpc()` of one endpoint,
   * which share one broker session). Fixtures that cannot have two clients of one eva leave it out, and the
   * shared-owner test then checks nothing.
   */
  connectAgain?(eva: string): RegistryClient | Promise<RegistryClient>;
  /**
   * Ends the client's session uncleanly, as a lost channel whose grace ran out does (InBrowserRegistry.drop; over the
   * broker, a socket cut without a close handshake and no reconnect within evaGraceMs): the registry applies the
   * client's wills and removes its other entries. Resolves once that is done and, for a client that reconnects by
   * itself (WebSocketRegistryClient, in a new session), once it has come back (`resynced`). The coordination tests
   * of wills check nothing for fixtures without it.
   */
  dropUncleanly?(client: RegistryClient): Promise<void>;
  /**
   * Interrupts the client's channel and brings it back before the registry's grace ends, so that its session (its
   * entries, its watches) is kept: the channel goes down, `whileDown` runs (the test makes changes the client cannot
   * hear), then the channel comes back and the client resumes. Resolves once the client emitted `resynced`.
   * Fixtures without a channel (InBrowserRegistry) leave it out, and the resume tests check nothing.
   */
  interrupt?(client: RegistryClient, whileDown?: () => Promise<void>): Promise<void>;
  /** Releases the fixture (servers, sockets). Clients not closed by the test are closed here. */
  close(): Promise<void>;
}

/** What a test asks of the registry it creates. Each fixture allows retained entries in collections starting `conformance-retained`. */
export interface RegistryFixtureOptions {
  /** The store's change-log history (MemoryRegistryStoreOptions.maxLogEntries): how far back a resumed watch can replay. */
  maxLogEntries?: number;
  /**
   * How long a dropped session is kept for its reconnect, ms (the broker's evaGraceMs), for tests that `interrupt`
   * clients: long enough that a reconnect always comes within it. Without it a fixture keeps the grace short, so
   * that wills apply soon after `dropUncleanly`. Fixtures without a grace ignore it.
   */
  graceMs?: number;
}

export interface RegistryConformanceSetup {
  /**
   * Creates a fresh registry for one test (without options before each test; a test needing options creates
   * another). Its authorize hook allows retained entries (and wills with a value) in collections whose name starts
   * with `conformance-retained`, and applies defaultAuthorize to everything else.
   */
  createRegistry(options?: RegistryFixtureOptions): RegistryFixture | Promise<RegistryFixture>;
  /** Time to wait for an expected event, ms. Default 5000. */
  timeoutMs?: number;
  /** The registry's largest value, in bytes of UTF-8 JSON. Default 65 536 (MemoryRegistryStore's default). */
  maxValueBytes?: number;
  /** The registry's longest collection or entry name, in characters. Default 256 (MemoryRegistryStore's default). */
  maxKeyLength?: number;
}

/** What the coordination tests (registryCoordinationConformance.ts) share with this suite: its fixture and its clients. */
export interface RegistrySuite {
  readonly setup: RegistryConformanceSetup;
  readonly timeoutMs: number;
  /** The registry of the running test. */
  fixture(): RegistryFixture;
  /** A client of the running test's registry, closed after the test. */
  connect(eva: string): Promise<RegistryClient>;
  /** A second client of an eva already connected (the fixture's connectAgain; check `fixture().connectAgain` first). */
  connectAgain(eva: string): Promise<RegistryClient>;
  /** A recorder of watch events, disposed of after the test. */
  record<T extends RegistryWatchEvent = RegistryChange>(): Recorder<T>;
  /** Replaces the running test's registry by one created with `options` (the clients of the old one are closed). */
  reopen(options: RegistryFixtureOptions): Promise<RegistryFixture>;
}

const C1 = 'conformance-collection-1';
const C2 = 'conformance-collection-2';

/** Registers jest tests that check every registry rule (docs/design.md, The registry) against `setup`. */
export function registryConformance(name: string, setup: RegistryConformanceSetup): void {
  const timeoutMs = setup.timeoutMs ?? 5000;
  const maxValueBytes = setup.maxValueBytes ?? 64 * 1024;
  const maxKeyLength = setup.maxKeyLength ?? 256;

  describe(`registry conformance: ${name}`, () => {
    let fixture: RegistryFixture;
    let clients: RegistryClient[] = [];
    let recorders: Recorder<RegistryWatchEvent>[] = [];

    const connect = async (eva: string): Promise<RegistryClient> => {
      const client = await fixture.connect(eva);
      clients.push(client);
      return client;
    };
    const connectAgain = async (eva: string): Promise<RegistryClient> => {
      const client = await fixture.connectAgain!(eva);
      clients.push(client);
      return client;
    };
    const record = <T extends RegistryWatchEvent = RegistryChange>(): Recorder<T> => {
      const recorder = new Recorder<T>(timeoutMs);
      recorders.push(recorder as unknown as Recorder<RegistryWatchEvent>);
      return recorder;
    };
    const release = async (): Promise<void> => {
      for (const recorder of recorders) recorder.dispose();
      await Promise.all(clients.map((client) => client.close().catch(() => undefined)));
      clients = [];
      recorders = [];
      await fixture.close();
    };

    beforeEach(async () => {
      fixture = await setup.createRegistry();
    });

    afterEach(release);

    it('runs the seed flow: createEntry resolves Global.OK, getEntry the value (methods called unbound)', async () => {
      const registryClient = await connect('endpoint1-name');
      const key = { collection: C1, name: 'entry1' };
      const statuses: unknown[] = [];
      const values: unknown[] = [];
      await Promise.resolve()
        .then(registryClient.createEntry.bind(null, key, 'entry value'))
        .then((status) => statuses.push(status))
        .then(registryClient.getEntry.bind(null, key))
        .then((value) => values.push(value));
      expect(statuses).toEqual([Global.OK]);
      expect(values).toEqual(['entry value']);
    });

    it('resolves ALREADY_EXISTS for an existing key and keeps the first value and owner', async () => {
      const a = await connect('owner-a');
      const b = await connect('owner-b');
      const key = { collection: C1, name: 'taken' };
      expect(await a.createEntry(key, 'first')).toBe(Global.OK);
      expect(await b.createEntry(key, 'second')).toBe(Global.ALREADY_EXISTS);
      expect(await a.createEntry(key, 'third')).toBe(Global.ALREADY_EXISTS);
      expect(await b.getEntry(key)).toBe('first');
      const [entry] = await b.listEntries(C1);
      expect(entry).toMatchObject({ collection: C1, name: 'taken', value: 'first', owner: 'owner-a', version: 1 });
    });

    it('rejects getEntry of an absent entry with a VnfError NOT_FOUND', async () => {
      const a = await connect('owner-a');
      await expectCode(attempt(() => a.getEntry({ collection: C1, name: 'never-created' })), 'NOT_FOUND');
      await a.createEntry({ collection: C1, name: 'present' }, 1);
      await expectCode(attempt(() => a.getEntry({ collection: C1, name: 'absent' })), 'NOT_FOUND');
      await expectCode(attempt(() => a.getEntry({ collection: C2, name: 'present' })), 'NOT_FOUND');
    });

    it('lets only the owner update an entry: others get FORBIDDEN and the value stays', async () => {
      const a = await connect('owner-a');
      const b = await connect('owner-b');
      const key = { collection: C1, name: 'e' };
      await a.createEntry(key, 'v1');
      await expectCode(attempt(() => b.updateEntry(key, 'hijacked')), 'FORBIDDEN');
      expect(await b.getEntry(key)).toBe('v1');
      expect(await a.updateEntry(key, 'v2')).toBe(Global.OK);
      expect(await b.getEntry(key)).toBe('v2');
      expect((await b.listEntries(C1))[0]).toMatchObject({ owner: 'owner-a', value: 'v2', version: 2 });
    });

    it('lets only the owner delete an entry: others get FORBIDDEN and the entry stays', async () => {
      const a = await connect('owner-a');
      const b = await connect('owner-b');
      const key = { collection: C1, name: 'e' };
      await a.createEntry(key, 'v1');
      await expectCode(attempt(() => b.deleteEntry(key)), 'FORBIDDEN');
      expect(await b.getEntry(key)).toBe('v1');
      expect(await a.deleteEntry(key)).toBe(Global.OK);
      await expectCode(attempt(() => a.getEntry(key)), 'NOT_FOUND');
      expect(await b.createEntry(key, 'b now')).toBe(Global.OK);
      expect((await a.listEntries(C1))[0]).toMatchObject({ owner: 'owner-b', value: 'b now', version: 1 });
    });

    it('rejects update and delete of an absent entry with NOT_FOUND', async () => {
      const a = await connect('owner-a');
      const key = { collection: C1, name: 'ghost' };
      await expectCode(attempt(() => a.updateEntry(key, 'x')), 'NOT_FOUND');
      await expectCode(attempt(() => a.deleteEntry(key)), 'NOT_FOUND');
      await expectCode(attempt(() => a.getEntry(key)), 'NOT_FOUND');
    });

    it('lists a collection ordered by name, with value, owner and version, and nothing of other collections', async () => {
      const a = await connect('owner-a');
      const b = await connect('owner-b');
      await a.createEntry({ collection: C1, name: 'm' }, 'm-value');
      await b.createEntry({ collection: C1, name: 'b' }, { n: 'b' });
      await a.createEntry({ collection: C2, name: 'a-other' }, 'other');
      await a.createEntry({ collection: C1, name: 'z' }, 26);
      await b.createEntry({ collection: C1, name: 'B' }, null);
      await a.createEntry({ collection: C1, name: 'a' }, true);
      await b.createEntry({ collection: C1, name: 'b2' }, ['x']);
      const entries = await a.listEntries(C1);
      expect(entries.map((e) => e.name)).toEqual(['B', 'a', 'b', 'b2', 'm', 'z']);
      expect(entries.map((e) => e.value)).toEqual([null, true, { n: 'b' }, ['x'], 'm-value', 26]);
      expect(entries.map((e) => e.owner)).toEqual(['owner-b', 'owner-a', 'owner-b', 'owner-b', 'owner-a', 'owner-a']);
      expect(entries.every((e) => e.collection === C1 && e.version === 1)).toBe(true);
      expect(await b.listEntries('conformance-empty')).toEqual([]);
    });

    it('tells a watcher added, updated and removed, in order, for its collection only', async () => {
      const a = await connect('owner-a');
      const b = await connect('owner-b');
      const seen = record();
      await b.watch(C1, seen.watcher);
      await a.createEntry({ collection: C2, name: 'elsewhere' }, 0);
      await a.createEntry({ collection: C1, name: 'e1' }, 'v1');
      await a.updateEntry({ collection: C1, name: 'e1' }, 'v2');
      await a.createEntry({ collection: C1, name: 'e2' }, 'w');
      await a.deleteEntry({ collection: C1, name: 'e1' });
      const changes = await seen.until(4);
      expect(changes.map((c) => [c.type, c.entry.name, c.entry.value, c.entry.version])).toEqual([
        ['added', 'e1', 'v1', 1],
        ['updated', 'e1', 'v2', 2],
        ['added', 'e2', 'w', 1],
        ['removed', 'e1', 'v2', 2],
      ]);
      expect(changes.every((c) => c.entry.collection === C1 && c.entry.owner === 'owner-a')).toBe(true);
    });

    it('stops telling a watcher once its stop function resolved; other watches go on', async () => {
      const a = await connect('owner-a');
      const b = await connect('owner-b');
      const stopped = record();
      const live = record();
      let heardAfterStop = 0;
      const stop = await b.watch(C1, (change) => {
        stopped.watcher(change);
        if (stopResolved) heardAfterStop++;
      });
      let stopResolved = false;
      await b.watch(C1, live.watcher);
      // Not waiting for the watchers: this change may still be on its way when stop is called.
      await a.createEntry({ collection: C1, name: 'before-stop' }, 0);
      await stop();
      stopResolved = true;
      await stop();
      await a.createEntry({ collection: C1, name: 'after-stop' }, 1);
      await a.deleteEntry({ collection: C1, name: 'after-stop' });
      // The live watch hearing every change means the stopped one would have heard them by now.
      expect((await live.until(3)).map((c) => `${c.type}:${c.entry.name}`)).toEqual([
        'added:before-stop',
        'added:after-stop',
        'removed:after-stop',
      ]);
      expect(heardAfterStop).toBe(0);
      expect(stopped.changes.every((c) => c.entry.name === 'before-stop')).toBe(true);
    });

    it("removes a client's entries when it closes and tells the watchers; other owners' entries stay", async () => {
      const a = await connect('owner-a');
      const b = await connect('owner-b');
      await a.createEntry({ collection: C1, name: 'a1' }, 1);
      await a.createEntry({ collection: C1, name: 'a2' }, 2);
      await a.createEntry({ collection: C2, name: 'a3' }, 3);
      await b.createEntry({ collection: C1, name: 'b1' }, 'mine');
      const seen = record();
      await b.watch(C1, seen.watcher);
      await a.close();
      const changes = await seen.until(2);
      expect(changes.map((c) => c.type)).toEqual(['removed', 'removed']);
      expect(changes.map((c) => c.entry.name).sort()).toEqual(['a1', 'a2']);
      await expectCode(attempt(() => b.getEntry({ collection: C1, name: 'a1' })), 'NOT_FOUND');
      expect((await b.listEntries(C1)).map((e) => e.name)).toEqual(['b1']);
      expect(await b.listEntries(C2)).toEqual([]);
      // The eva's entries are free for whoever comes next.
      const c = await connect('owner-c');
      expect(await c.createEntry({ collection: C1, name: 'a1' }, 'reused')).toBe(Global.OK);
    });

    it('lets several clients share an owner: each watch hears its own changes once, any may write, close removes what that client wrote', async () => {
      if (!fixture.connectAgain) return;
      const first = await connect('owner-shared');
      const second = await connectAgain('owner-shared');
      const other = await connect('owner-other');
      const firstSeen = record();
      const secondSeen = record();
      const otherSeen = record();
      await first.watch(C1, firstSeen.watcher);
      await second.watch(C1, secondSeen.watcher);
      await other.watch(C1, otherSeen.watcher);
      const k1 = { collection: C1, name: 'by-first' };
      const k2 = { collection: C1, name: 'by-second' };
      expect(await first.createEntry(k1, 1)).toBe(Global.OK);
      expect(await second.createEntry(k2, 2)).toBe(Global.OK);
      // The entries belong to the eva, not to the client that created them.
      expect(await second.updateEntry(k1, 'one')).toBe(Global.OK);
      expect((await other.listEntries(C1)).map((e) => [e.name, e.owner])).toEqual([
        ['by-first', 'owner-shared'],
        ['by-second', 'owner-shared'],
      ]);
      const expected = ['added:by-first', 'added:by-second', 'updated:by-first'];
      expect((await firstSeen.until(3)).map(describeChange)).toEqual(expected);
      await first.close();
      // Closing one client removes what it wrote; the owner's other client keeps working and keeps its entries.
      expect((await secondSeen.until(4)).map(describeChange)).toEqual([...expected, 'removed:by-first']);
      expect((await otherSeen.until(4)).map(describeChange)).toEqual([...expected, 'removed:by-first']);
      expect((await second.listEntries(C1)).map((e) => e.name)).toEqual(['by-second']);
      expect(await second.updateEntry(k2, 'two')).toBe(Global.OK);
      expect((await otherSeen.until(5)).map(describeChange)[4]).toBe('updated:by-second');
      expect((await secondSeen.until(5)).map(describeChange)[4]).toBe('updated:by-second');
      await second.close();
      expect((await otherSeen.until(6)).map(describeChange)[5]).toBe('removed:by-second');
      expect(await other.listEntries(C1)).toEqual([]);
      // Each change was told once to each watch, and the closed client's watch heard nothing after its close.
      expect(firstSeen.changes.map(describeChange)).toEqual(expected);
      expect(secondSeen.changes.map(describeChange)).toEqual([...expected, 'removed:by-first', 'updated:by-second']);
      expect(otherSeen.changes).toHaveLength(6);
    });

    it('works with every method called unbound', async () => {
      const client = await connect('owner-unbound');
      const { createEntry, getEntry, updateEntry, deleteEntry, listEntries, watch, close } = client;
      const key = { collection: C1, name: 'unbound' };
      const seen = record();
      const stop = await watch(C1, seen.watcher);
      expect(await createEntry(key, 'v1')).toBe(Global.OK);
      expect(await getEntry(key)).toBe('v1');
      expect(await updateEntry(key, 'v2')).toBe(Global.OK);
      expect((await listEntries(C1)).map((e) => e.value)).toEqual(['v2']);
      expect(await deleteEntry(key)).toBe(Global.OK);
      expect((await seen.until(3)).map((c) => c.type)).toEqual(['added', 'updated', 'removed']);
      await stop();
      await close();
      await expectCode(attempt(() => getEntry(key)), 'DESTROYED');
    });

    it('rejects bad keys and collections with INVALID_ARGUMENT (asynchronously)', async () => {
      const a = await connect('owner-a');
      const long = 'k'.repeat(maxKeyLength + 1);
      const badKeys: unknown[] = [
        null,
        undefined,
        'c/name',
        {},
        { collection: C1 },
        { name: 'n' },
        { collection: '', name: 'n' },
        { collection: C1, name: '' },
        { collection: 7, name: 'n' },
        { collection: C1, name: { nested: true } },
        { collection: long, name: 'n' },
        { collection: C1, name: long },
      ];
      for (const bad of badKeys) {
        const key = bad as RegistryKey;
        await expectCode(attempt(() => a.createEntry(key, 'v')), 'INVALID_ARGUMENT', bad);
        await expectCode(attempt(() => a.getEntry(key)), 'INVALID_ARGUMENT', bad);
        await expectCode(attempt(() => a.updateEntry(key, 'v')), 'INVALID_ARGUMENT', bad);
        await expectCode(attempt(() => a.deleteEntry(key)), 'INVALID_ARGUMENT', bad);
      }
      for (const bad of ['', long, 5, null] as unknown as string[]) {
        await expectCode(attempt(() => a.listEntries(bad)), 'INVALID_ARGUMENT', bad);
        await expectCode(attempt(() => a.watch(bad, () => undefined)), 'INVALID_ARGUMENT', bad);
      }
      await expectCode(attempt(() => a.watch(C1, 'not a function' as never)), 'INVALID_ARGUMENT');
      // A key of exactly the limit is fine.
      const edge = 'k'.repeat(maxKeyLength);
      expect(await a.createEntry({ collection: edge, name: edge }, 'edge')).toBe(Global.OK);
      expect(await a.listEntries(C1)).toEqual([]);
    });

    it('rejects values that are not plain JSON with INVALID_PAYLOAD and stores nothing', async () => {
      const a = await connect('owner-a');
      const cyclic: Record<string, unknown> = { name: 'loop' };
      cyclic.self = cyclic;
      const badValues: unknown[] = [
        undefined,
        () => 1,
        Symbol('s'),
        Number.NaN,
        Number.POSITIVE_INFINITY,
        BigInt(10),
        new Date(0),
        new Map([[1, 2]]),
        new Uint8Array([1, 2]),
        cyclic,
        [1, undefined],
        { nested: { fn: () => 1 } },
        { deep: [Number.NaN] },
      ];
      const key = { collection: C1, name: 'bad-value' };
      for (const bad of badValues) {
        await expectCode(attempt(() => a.createEntry(key, bad)), 'INVALID_PAYLOAD', bad);
      }
      await expectCode(attempt(() => a.getEntry(key)), 'NOT_FOUND');
      await a.createEntry(key, 'good');
      for (const bad of badValues) {
        await expectCode(attempt(() => a.updateEntry(key, bad)), 'INVALID_PAYLOAD', bad);
      }
      expect(await a.getEntry(key)).toBe('good');
    });

    it('rejects a value over the size limit with TOO_LARGE and accepts one at the limit', async () => {
      const a = await connect('owner-a');
      const key = { collection: C1, name: 'big' };
      // A JSON string is its characters plus two quotes.
      const atLimit = 'x'.repeat(maxValueBytes - 2);
      const overLimit = 'x'.repeat(maxValueBytes - 1);
      await expectCode(attempt(() => a.createEntry(key, overLimit)), 'TOO_LARGE');
      await expectCode(attempt(() => a.getEntry(key)), 'NOT_FOUND');
      expect(await a.createEntry(key, atLimit)).toBe(Global.OK);
      expect(await a.getEntry(key)).toBe(atLimit);
      await a.updateEntry(key, 'small');
      await expectCode(attempt(() => a.updateEntry(key, overLimit)), 'TOO_LARGE');
      expect(await a.getEntry(key)).toBe('small');
    });

    it('round-trips every kind of JSON value', async () => {
      const a = await connect('owner-a');
      const values: unknown[] = [
        null,
        true,
        false,
        0,
        -1.5,
        1e21,
        '',
        'ünïcødé 😀 "quoted" \\ \n',
        [],
        {},
        { list: [1, 'two', null, { three: [3] }], nested: { deep: { deeper: 'yes' } } },
      ];
      for (const [i, value] of values.entries()) {
        const key = { collection: C1, name: `v${i}` };
        expect(await a.createEntry(key, value)).toBe(Global.OK);
        expect(await a.getEntry(key)).toEqual(value);
      }
      expect((await a.listEntries(C1)).length).toBe(values.length);
    });

    it('keeps its own copy of values: mutating what was passed in or handed out changes nothing stored', async () => {
      const a = await connect('owner-a');
      const key = { collection: C1, name: 'copied' };
      const seen = record();
      await a.watch(C1, seen.watcher);
      const original = { list: [1, 2], inner: { flag: true } };
      await a.createEntry(key, original);
      original.list.push(3);
      original.inner.flag = false;
      const got = (await a.getEntry(key)) as typeof original;
      expect(got).toEqual({ list: [1, 2], inner: { flag: true } });
      got.list.push(99);
      got.inner.flag = false;
      const [listed] = await a.listEntries(C1);
      expect(listed.value).toEqual({ list: [1, 2], inner: { flag: true } });
      (listed.value as typeof original).list.length = 0;
      const [added] = await seen.until(1);
      (added.entry.value as typeof original).inner.flag = false;
      const next = { list: ['n'], inner: { flag: true } };
      await a.updateEntry(key, next);
      next.list.push('mutated');
      expect(await a.getEntry(key)).toEqual({ list: ['n'], inner: { flag: true } });
    });

    it('rejects every call with DESTROYED after close; close is idempotent', async () => {
      const a = await connect('owner-a');
      const key = { collection: C1, name: 'k' };
      await a.createEntry(key, 'v');
      const stop = await a.watch(C1, () => undefined);
      await a.close();
      await a.close();
      await expectCode(attempt(() => a.createEntry({ collection: C1, name: 'other' }, 'v')), 'DESTROYED');
      await expectCode(attempt(() => a.getEntry(key)), 'DESTROYED');
      await expectCode(attempt(() => a.updateEntry(key, 'v2')), 'DESTROYED');
      await expectCode(attempt(() => a.deleteEntry(key)), 'DESTROYED');
      await expectCode(attempt(() => a.listEntries(C1)), 'DESTROYED');
      await expectCode(attempt(() => a.watch(C1, () => undefined)), 'DESTROYED');
      // A stop function kept from before the close is harmless.
      await stop();
      const b = await connect('owner-b');
      await expectCode(attempt(() => b.getEntry(key)), 'NOT_FOUND');
    });

    registryCoordinationConformance({
      setup,
      timeoutMs,
      fixture: () => fixture,
      connect,
      connectAgain,
      record,
      async reopen(options) {
        await release();
        fixture = await setup.createRegistry(options);
        return fixture;
      },
    });
  });
}
