import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { registryStorageConformance, trackResources, until } from '@vnf/conformance';
import { Global, VnfError, defaultAuthorize, type RegistryAuthorize, type RegistryStorage, type StorageChange } from '@vnf/core';
import {
  DEFAULT_MAX_BYTES_PER_OWNER,
  DEFAULT_MAX_ENTRIES_PER_OWNER,
  DEFAULT_MAX_KEY_LENGTH,
  DEFAULT_MAX_VALUE_BYTES,
  InBrowserRegistry,
  RegistryRules,
} from '@vnf/registry';
import { Redis } from 'ioredis';
import { RedisRegistryStorage } from '../src/RedisRegistryStorage';
import { describeWithRedis, startRedis, type RedisServer } from './support/redisServer';

let server: RedisServer;
let prefixes = 0;
const run = Math.random().toString(36).slice(2, 8);
/** Each test its own store on the file's one redis-server. */
const uniquePrefix = (): string => `regtest-${run}-${prefixes++}:`;

const LIMITS = {
  maxValueBytes: DEFAULT_MAX_VALUE_BYTES,
  maxEntriesPerOwner: DEFAULT_MAX_ENTRIES_PER_OWNER,
  maxKeyLength: DEFAULT_MAX_KEY_LENGTH,
  maxBytesPerOwner: DEFAULT_MAX_BYTES_PER_OWNER,
};

/** The conformance fixtures' rule: retained entries (and wills with a value) in `conformance-retained*` collections. */
const authorize: RegistryAuthorize = (subject, action, resource) =>
  resource.collection.startsWith('conformance-retained') || defaultAuthorize(subject, action, resource);

const value = (owner: string, json: string) => ({ owner, json, bytes: Buffer.byteLength(json) });
const key = (name: string, collection = 'c') => ({ collection, name });

function storage(options: { keyPrefix?: string; changeLogLength?: number; reapIntervalMs?: number } = {}): RedisRegistryStorage {
  return new RedisRegistryStorage({ redis: server.url, keyPrefix: options.keyPrefix ?? uniquePrefix(), ...options });
}

async function closeAll(...storages: RegistryStorage[]): Promise<void> {
  for (const s of storages) await s.close();
}

describeWithRedis('RedisRegistryStorage', () => {
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(() => server?.stop());

  // Two handles on one prefix are two brokers on one store: the suite writes through one and reads through the other.
  registryStorageConformance('RedisRegistryStorage, two handles on one prefix', {
    async create({ maxLogEntries }) {
      const keyPrefix = uniquePrefix();
      return [storage({ keyPrefix, changeLogLength: maxLogEntries, reapIntervalMs: 20 }), storage({ keyPrefix, changeLogLength: maxLogEntries, reapIntervalMs: 20 })];
    },
  });

  describe('over an ioredis client it is given', () => {
    const clients: Redis[] = [];
    afterAll(async () => {
      for (const client of clients) await client.quit();
    });
    registryStorageConformance('RedisRegistryStorage over a given client', {
      async create({ maxLogEntries }) {
        const client = new Redis(server.url);
        clients.push(client);
        return new RedisRegistryStorage({ redis: client, keyPrefix: uniquePrefix(), changeLogLength: maxLogEntries, reapIntervalMs: 20 });
      },
    });
  });

  it('is one store for two handles on one prefix: each hears both handles’ writes, in one revision order', async () => {
    const keyPrefix = uniquePrefix();
    const one = storage({ keyPrefix });
    const two = storage({ keyPrefix });
    try {
      const heardByOne: StorageChange[] = [];
      const heardByTwo: StorageChange[] = [];
      await one.subscribe('c', (change) => heardByOne.push(change));
      await two.subscribe('c', (change) => heardByTwo.push(change));
      const writes = await Promise.all(
        Array.from({ length: 40 }, (_, i) => (i % 2 ? one : two).write(key(`n${i}`), value(i % 2 ? 'one' : 'two', String(i)), { absent: true })),
      );
      expect(writes.every((w) => w.ok)).toBe(true);
      await until('both handles told all 40 writes', 5000, () => heardByOne.length === 40 && heardByTwo.length === 40);
      const revisions = (heard: StorageChange[]) => heard.map((c) => c.revision);
      expect(revisions(heardByOne)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
      expect(heardByTwo).toEqual(heardByOne);
      expect((await two.read(key('n1')))?.owner).toBe('one');
      expect((await one.read(key('n0')))?.owner).toBe('two');
      expect(await one.revision()).toBe(40);
      expect((await two.page('c', undefined, 100, Infinity)).records).toHaveLength(40);
    } finally {
      await closeAll(one, two);
    }
  });

  it('runs the registry across two brokers on one store: watches, waiting writes, wills and a lease expiry cross brokers', async () => {
    const keyPrefix = uniquePrefix();
    const brokers = [0, 1].map(() => {
      const store = storage({ keyPrefix, reapIntervalMs: 10 });
      const rules = new RegistryRules(store, LIMITS);
      return { store, rules, registry: new InBrowserRegistry({ store: rules, authorize }) };
    });
    const [a, b] = brokers as [(typeof brokers)[number], (typeof brokers)[number]];
    const R = 'conformance-retained-cross';
    const alice = a.registry.connect('alice');
    const bob = b.registry.connect('bob');
    const carol = b.registry.connect('carol');
    try {
      const seen: string[] = [];
      await bob.watch(R, (change) => seen.push(`${change.type}:${change.entry.name}:${JSON.stringify(change.entry.value)}`));
      await alice.write({ collection: R, name: 'status' }, 'up', { will: { value: 'down' } });
      await alice.write({ collection: R, name: 'lock' }, 'alice', { when: null });
      // Carol (broker b) waits for the lock alice (broker a) holds; she wins it when alice lets it go.
      const waiting = carol.write({ collection: R, name: 'lock' }, 'carol', { when: null, wait: true });
      await until('bob saw both writes', 5000, () => seen.length === 2);
      await alice.remove({ collection: R, name: 'lock' });
      expect(await waiting).toMatchObject({ status: Global.OK, version: 1 });
      await a.registry.drop(alice);
      await until('the will heard on the other broker', 5000, () => seen.includes('updated:status:"down"'));
      expect(seen).toEqual(['added:status:"up"', 'added:lock:"alice"', 'removed:lock:"alice"', 'added:lock:"carol"', 'updated:status:"down"']);
      // A broker that dies stops renewing: the other broker's handle expires what it held.
      await a.store.write({ collection: R, name: 'orphan' }, { owner: 'dave', json: '1', bytes: 1 }, { absent: true });
      await a.store.keepAlive('dave', 30);
      await a.rules.close();
      await a.store.close();
      await until('the orphan expired by broker b', 5000, () => seen.includes('removed:orphan:1'));
    } finally {
      await Promise.all([alice, bob, carol].map((client) => client.close()));
      for (const { rules, store } of brokers) {
        await rules.close();
        await store.close();
      }
    }
  });

  it("tells a handle's subscribers its own write before the write resolves", async () => {
    const one = storage();
    try {
      const heard: string[] = [];
      await one.subscribe('c', (change) => heard.push(`${change.type}:${change.record.name}:${change.revision}`));
      await one.write(key('a'), value('o', '1'), { absent: true });
      expect(heard).toEqual(['added:a:1']);
      await one.write(key('a'), value('o', '2'), { version: 1 });
      expect(heard).toEqual(['added:a:1', 'updated:a:2']);
      await one.write(key('a'), null, { version: 2 });
      expect(heard).toEqual(['added:a:1', 'updated:a:2', 'removed:a:3']);
    } finally {
      await one.close();
    }
  });

  it('expires a lease exactly once with two handles reaping: each entry removed or made its will once', async () => {
    const keyPrefix = uniquePrefix();
    const one = storage({ keyPrefix, reapIntervalMs: 2 });
    const two = storage({ keyPrefix, reapIntervalMs: 2 });
    try {
      const heardByOne: StorageChange[] = [];
      const heardByTwo: StorageChange[] = [];
      await one.subscribe('c', (change) => heardByOne.push(change));
      await two.subscribe('c', (change) => heardByTwo.push(change));
      for (let i = 0; i < 4; i++) await one.write(key(`will-${i}`), { ...value('leaser', `"up${i}"`), will: { json: `"down${i}"`, bytes: 7 } }, { absent: true });
      for (let i = 0; i < 3; i++) await two.write(key(`lock-${i}`), { ...value('leaser', '"held"'), will: { json: null, bytes: 0 } }, { absent: true });
      for (let i = 0; i < 3; i++) await one.write(key(`plain-${i}`), value('leaser', '1'), { absent: true });
      await two.write(key('retained'), { ...value('leaser', '1'), retained: true }, { absent: true });
      await one.write(key('other'), value('other', '1'), { absent: true });
      // Both handles hold the lease and both are due to reap it at once.
      await Promise.all([one.keepAlive('leaser', 30), two.keepAlive('leaser', 30)]);
      await until('the lease expired on both handles', 5000, () => heardByOne.length >= 22 && heardByTwo.length >= 22);
      // One more write: had anything been applied twice, its revision would be past 23.
      const after = await two.write(key('after'), value('other', '1'), { absent: true });
      expect(after).toMatchObject({ ok: true, revision: 23 });
      await until('the last write heard', 5000, () => heardByOne.length === 23 && heardByTwo.length === 23);
      expect(heardByTwo).toEqual(heardByOne);
      const expiry = heardByOne.slice(12, 22).map((c) => `${c.type}:${c.record.name}:${c.record.json}:${c.record.retained === true}`);
      expect(expiry.sort()).toEqual(
        [
          ...[0, 1, 2, 3].map((i) => `updated:will-${i}:"down${i}":true`),
          ...[0, 1, 2].map((i) => `removed:lock-${i}:"held":false`),
          ...[0, 1, 2].map((i) => `removed:plain-${i}:1:false`),
        ].sort(),
      );
      expect(await one.ownedBy('leaser')).toEqual([]);
      expect(await two.read(key('will-2'))).toMatchObject({ json: '"down2"', version: 2, retained: true });
      expect(await two.read(key('retained'))).toMatchObject({ retained: true, version: 1 });
      expect(await one.read(key('other'))).toBeDefined();
    } finally {
      await closeAll(one, two);
    }
  });

  it('pages names in UTF-16 code-unit order: astral characters before U+E000–U+FFFF, lone surrogates kept', async () => {
    const one = storage();
    try {
      const names = ['\uFFFF', '\u{1F600}', '\uE000', 'a', 'ab', 'a\u0000', '\uD800', '\uDFFF', 'z', '\u00E9', 'A', '\u{10FFFF}'];
      for (const name of names) await one.write(key(name), value('o', '1'), { absent: true });
      const expected = [...names].sort();
      expect(expected.indexOf('\u{1F600}')).toBeLessThan(expected.indexOf('\uE000'));
      const seen: string[] = [];
      let after: string | undefined;
      for (;;) {
        const page = await one.page('c', after, 5, Infinity);
        seen.push(...page.records.map((r) => r.name));
        if (page.next === undefined) break;
        after = page.next;
      }
      expect(seen).toEqual(expected);
      expect((await one.ownedBy('o')).map((r) => r.name)).toEqual(expected);
      expect((await one.read(key('\uD800')))?.name).toBe('\uD800');
    } finally {
      await one.close();
    }
  });

  it('refuses unknown and invalid options with INVALID_ARGUMENT, saying what to give', () => {
    const invalid = (options: unknown, message: RegExp) => {
      let error: unknown;
      try {
        new RedisRegistryStorage(options as never);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(VnfError);
      expect(error).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(message) });
    };
    invalid({}, /needs redis: a redis:\/\/ URL or an ioredis client/);
    invalid(undefined, /needs redis/);
    invalid({ redis: 'http://127.0.0.1:6379' }, /option "redis" must be a redis:\/\/ URL or an ioredis client/);
    invalid({ redis: server.url, prefix: 'x:' }, /Unknown RedisRegistryStorage option "prefix". Did you mean "keyPrefix"\?/);
    invalid({ redis: server.url, changeLogLength: 0 }, /option "changeLogLength" must be an integer >= 1; got 0/);
    invalid({ redis: server.url, reapIntervalMs: 1.5 }, /option "reapIntervalMs" must be an integer from 1 to/);
    invalid({ redis: server.url, keyPrefix: 7 }, /option "keyPrefix" must be a string/);
  });

  it('rejects with UNAVAILABLE, naming Redis and what to check, when Redis is unreachable', async () => {
    const gone = await startRedis();
    await gone.stop();
    const unreachable = new RedisRegistryStorage({ redis: gone.url, keyPrefix: uniquePrefix() });
    try {
      const message = expect.stringMatching(/Redis at redis:\/\/127\.0\.0\.1:\d+ did not answer .*check that Redis is running and reachable/);
      await expect(unreachable.write(key('a'), value('o', '1'), { absent: true })).rejects.toMatchObject({ code: 'UNAVAILABLE', message });
      await expect(unreachable.read(key('a'))).rejects.toMatchObject({ code: 'UNAVAILABLE', message });
      await expect(unreachable.keepAlive('o', 1000)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    } finally {
      await unreachable.close();
    }
    await expect(unreachable.read(key('a'))).rejects.toMatchObject({ code: 'DESTROYED' });
  });

  it('leaves a client it was given open, and releases its own timers and sockets on close', async () => {
    const resources = trackResources();
    const client = new Redis(server.url);
    const keyPrefix = uniquePrefix();
    const given = new RedisRegistryStorage({ redis: client, keyPrefix });
    const own = storage({ keyPrefix });
    const heard: StorageChange[] = [];
    await own.subscribe('c', (change) => heard.push(change));
    await given.write(key('a'), value('o', '1'), { absent: true });
    await given.keepAlive('o', 60_000);
    await until('the other handle heard the write', 5000, () => heard.length === 1);
    await given.close();
    await given.close();
    await own.close();
    expect(client.status).toBe('ready');
    await client.quit();
    await resources.released(5000);
  });

  it('notices a Redis that restarted empty: its revisions start again and subscribers hear the new store', async () => {
    const own = await startRedis();
    const one = new RedisRegistryStorage({ redis: own.url, keyPrefix: 'restart:' });
    try {
      const heard: string[] = [];
      await one.subscribe('c', (change) => heard.push(`${change.record.name}:${change.revision}`));
      for (const name of ['a', 'b', 'c']) await one.write(key(name), value('o', '1'), { absent: true });
      expect(heard).toEqual(['a:1', 'b:2', 'c:3']);
      await own.restartEmpty();
      let written: Awaited<ReturnType<RegistryStorage['write']>> | undefined;
      const deadline = Date.now() + 10_000;
      while (!written) {
        written = await one.write(key('fresh'), value('o', '1'), { absent: true }).catch(() => undefined);
        if (!written && Date.now() > deadline) throw new Error('no write succeeded within 10 s of the restart');
      }
      expect(written).toMatchObject({ ok: true, revision: 1 });
      await until('the new store’s write heard', 5000, () => heard.includes('fresh:1'));
      expect(await one.changesSince(3, 10)).toMatchObject({ truncated: true, revision: 1 });
    } finally {
      await one.close();
      await own.stop();
    }
  });
});
