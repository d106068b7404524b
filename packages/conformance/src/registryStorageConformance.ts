import { describe, expect, it } from '@jest/globals';
import type { RecordValue, RegistryStorage, StorageChange } from '@vnf/core';
import { until } from './waiting';

export interface RegistryStorageConformanceSetup {
  /** A fresh, empty storage keeping at most `maxLogEntries` changes in its log; for a shared storage, two handles on it. */
  create(options: { maxLogEntries: number }): Promise<RegistryStorage | [RegistryStorage, RegistryStorage]>;
}

const value = (owner: string, json: string): RecordValue => ({ owner, json, bytes: json.length });
const key = (name: string, collection = 'c') => ({ collection, name });

/**
 * Registers jest tests that check what every RegistryStorage promises (docs/design.md, The registry): atomic
 * conditional writes, owner quotas checked in the same step, a store-wide revision, a bounded change log, ordered
 * subscriptions, pages, and owner leases whose expiry removes the owner's entries.
 */
export function registryStorageConformance(name: string, setup: RegistryStorageConformanceSetup): void {
  describe(`${name} keeps the RegistryStorage contract`, () => {
    async function withStorage(body: (one: RegistryStorage, two: RegistryStorage) => Promise<void>, maxLogEntries = 1000): Promise<void> {
      const made = await setup.create({ maxLogEntries });
      const [one, two] = Array.isArray(made) ? made : [made, made];
      try {
        await body(one, two);
      } finally {
        await one.close();
        if (two !== one) await two.close();
      }
    }

    it('creates only what is absent and updates or removes only at the version asked, growing the revision by one a write', () =>
      withStorage(async (storage) => {
        expect(await storage.revision()).toBe(0);
        const created = await storage.write(key('n'), value('alice', '1'), { absent: true });
        expect(created).toMatchObject({ ok: true, revision: 1, record: { collection: 'c', name: 'n', owner: 'alice', version: 1, revision: 1, json: '1' } });
        expect(await storage.write(key('n'), value('bob', '2'), { absent: true })).toMatchObject({ ok: false, reason: 'condition', current: { owner: 'alice', version: 1 } });
        expect(await storage.write(key('n'), value('alice', '3'), { version: 2 })).toMatchObject({ ok: false, reason: 'condition', current: { version: 1 } });
        expect(await storage.write(key('n'), value('alice', '4'), { version: 1 })).toMatchObject({ ok: true, revision: 2, record: { version: 2, json: '4' } });
        expect(await storage.write(key('n'), null, { version: 1 })).toMatchObject({ ok: false, reason: 'condition' });
        expect(await storage.write(key('n'), null, { version: 2 })).toMatchObject({ ok: true, revision: 3, record: { version: 2, json: '4' } });
        expect(await storage.write(key('n'), null, { version: 2 })).toMatchObject({ ok: false, reason: 'condition', current: undefined });
        // Refused writes leave the revision alone.
        expect(await storage.revision()).toBe(3);
        expect(await storage.read(key('n'))).toBeUndefined();
      }));

    it('hands out copies: changing what it returned changes nothing stored', () =>
      withStorage(async (storage) => {
        await storage.write(key('n'), value('alice', '"x"'), { absent: true });
        const read = await storage.read(key('n'));
        if (read) read.json = '"forged"';
        expect((await storage.read(key('n')))?.json).toBe('"x"');
      }));

    it('lets exactly one of many concurrent conditional writes win, through either handle', () =>
      withStorage(async (one, two) => {
        const creates = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? one : two).write(key('race'), value(`w${i}`, String(i)), { absent: true })));
        expect(creates.filter((o) => o.ok)).toHaveLength(1);
        const updates = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? two : one).write(key('race'), value('w0', String(i)), { version: 1 })));
        expect(updates.filter((o) => o.ok)).toHaveLength(1);
        expect((await one.read(key('race')))?.version).toBe(2);
        expect(await two.revision()).toBe(2);
      }));

    it("checks an owner's quota in the same step as the write: entries, and bytes that grow", () =>
      withStorage(async (storage) => {
        const removed: string[] = [];
        await storage.subscribe('c', (change) => change.type === 'removed' && removed.push(change.record.name));
        const quota = { maxEntries: 2, maxBytes: 10 };
        expect((await storage.write(key('a'), value('o', '1234'), { absent: true }, quota)).ok).toBe(true);
        expect((await storage.write(key('b'), value('o', '1234'), { absent: true }, quota)).ok).toBe(true);
        expect(await storage.write(key('c'), value('o', '1'), { absent: true }, quota)).toMatchObject({ ok: false, reason: 'quota', entries: 2, bytes: 8 });
        expect(await storage.write(key('a'), value('o', '1234567'), { version: 1 }, quota)).toMatchObject({ ok: false, reason: 'quota' });
        expect((await storage.write(key('a'), value('o', '123456'), { version: 1 }, quota)).ok).toBe(true);
        // Another owner has its own quota; a removal frees room.
        expect((await storage.write(key('c'), value('p', '1'), { absent: true }, quota)).ok).toBe(true);
        await storage.write(key('b'), null, { version: 1 });
        expect((await storage.write(key('d'), value('o', '1'), { absent: true }, quota)).ok).toBe(true);
      }));

    it('keeps a change log readable from a revision, in order, bounded, and says when it was cut', () =>
      withStorage(async (storage) => {
        for (let i = 0; i < 5; i++) await storage.write(key(`n${i}`), value('o', String(i)), { absent: true });
        await storage.write(key('n0'), null, { version: 1 });
        const all = await storage.changesSince(0, 100);
        // Six writes, a log of three: the first three are gone.
        expect(all.truncated).toBe(true);
        expect(all.revision).toBe(6);
        expect(all.changes.map((c) => [c.revision, c.type, c.record.name])).toEqual([
          [4, 'added', 'n3'],
          [5, 'added', 'n4'],
          [6, 'removed', 'n0'],
        ]);
        const recent = await storage.changesSince(3, 2);
        expect(recent.truncated).toBe(false);
        expect(recent.changes.map((c) => c.revision)).toEqual([4, 5]);
        expect(await storage.changesSince(6, 10)).toEqual({ changes: [], truncated: false, revision: 6 });
      }, 3));

    it("tells a collection's subscribers each of its changes once, in revision order, and stops when unsubscribed", () =>
      withStorage(async (one, two) => {
        const seen: StorageChange[] = [];
        const stop = await two.subscribe('c', (change) => seen.push(change));
        await one.write(key('a'), value('o', '1'), { absent: true });
        await one.write(key('x', 'other'), value('o', '1'), { absent: true });
        await one.write(key('a'), value('o', '2'), { version: 1 });
        await one.write(key('a'), null, { version: 2 });
        await until('three changes of c', 5000, () => seen.length >= 3);
        expect(seen.map((c) => [c.type, c.revision, c.record.version])).toEqual([
          ['added', 1, 1],
          ['updated', 3, 2],
          ['removed', 4, 2],
        ]);
        stop();
        await one.write(key('b'), value('o', '1'), { absent: true });
        const marker: StorageChange[] = [];
        const stopMarker = await two.subscribe('c', (change) => marker.push(change));
        await one.write(key('m'), value('o', '1'), { absent: true });
        await until('the marker change', 5000, () => marker.length === 1);
        stopMarker();
        expect(seen).toHaveLength(3);
      }));

    it('pages a collection by name, bounded in entries and bytes, never empty, with the name to go on after', () =>
      withStorage(async (storage) => {
        for (const n of ['b', 'a', 'd', 'c', 'e']) await storage.write(key(n), value('o', '"' + 'x'.repeat(100) + '"'), { absent: true });
        const first = await storage.page('c', undefined, 2, 1_000_000);
        expect(first.records.map((r) => r.name)).toEqual(['a', 'b']);
        expect(first.next).toBe('b');
        const rest = await storage.page('c', 'b', 10, 1_000_000);
        expect(rest.records.map((r) => r.name)).toEqual(['c', 'd', 'e']);
        expect(rest.next).toBeUndefined();
        expect((await storage.page('c', undefined, 10, 1)).records).toHaveLength(1);
        expect(await storage.page('empty', undefined, 10, 1000)).toEqual({ records: [], revision: await storage.revision() });
        expect((await storage.ownedBy('o')).map((r) => r.name)).toEqual(['a', 'b', 'c', 'd', 'e']);
      }));

    it("removes an owner's entries, each as a change, when its lease runs out; an ended lease removes nothing", () =>
      withStorage(async (storage) => {
        const removed: string[] = [];
        await storage.subscribe('c', (change) => change.type === 'removed' && removed.push(change.record.name));
        await storage.write(key('kept'), value('keeper', '1'), { absent: true });
        await storage.keepAlive('keeper', 40);
        await storage.endLease('keeper');
        await storage.write(key('gone-1'), value('leaser', '1'), { absent: true });
        await storage.write(key('gone-2'), value('leaser', '1'), { absent: true });
        await storage.write(key('never-leased'), value('plain', '1'), { absent: true });
        await storage.keepAlive('leaser', 40);
        await until("the leaser's entries removed", 5000, () => removed.length === 2);
        // The keeper's lease would have run out first, had it not been ended.
        expect(removed.sort()).toEqual(['gone-1', 'gone-2']);
        expect(await storage.read(key('kept'))).toBeDefined();
        expect(await storage.read(key('never-leased'))).toBeDefined();
        expect(await storage.ownedBy('leaser')).toEqual([]);
      }));

    it("applies wills when a lease runs out: a will's value stays as a retained record, a removal will removes", () =>
      withStorage(async (storage) => {
        const changes: string[] = [];
        await storage.subscribe('c', (change) => changes.push(`${change.type}:${change.record.name}:${change.record.json}:${change.record.retained === true}`));
        await storage.write(key('status'), { ...value('leaser', '"up"'), will: { json: '"down"', bytes: 6 } }, { absent: true });
        await storage.write(key('lock'), { ...value('leaser', '"held"'), will: { json: null, bytes: 0 } }, { absent: true });
        await storage.keepAlive('leaser', 40);
        await until('both wills applied', 5000, () => changes.length === 4);
        expect(changes.slice(2).sort()).toEqual(['removed:lock:"held":false', 'updated:status:"down":true']);
        expect(await storage.read(key('status'))).toMatchObject({ owner: 'leaser', json: '"down"', retained: true, version: 2 });
        expect((await storage.read(key('status')))?.will).toBeUndefined();
        // A retained record belongs to no lease: it is not the owner's any more.
        expect(await storage.ownedBy('leaser')).toEqual([]);
      }));

    it('counts retained records against their collection, not their owner, and keeps them past the lease', () =>
      withStorage(async (storage) => {
        const removed: string[] = [];
        await storage.subscribe('c', (change) => change.type === 'removed' && removed.push(change.record.name));
        const quota = { maxEntries: 2, maxBytes: 10 };
        const retained = (owner: string, json: string): RecordValue => ({ ...value(owner, json), retained: true });
        expect(await storage.write(key('a'), retained('one', '"12"'), { absent: true }, quota)).toMatchObject({ ok: true, record: { retained: true } });
        expect(await storage.write(key('b'), retained('two', '"34"'), { absent: true }, quota)).toMatchObject({ ok: true });
        expect(await storage.write(key('c'), retained('three', '1'), { absent: true }, quota)).toMatchObject({ ok: false, reason: 'quota', entries: 2, bytes: 8 });
        // Another collection has its own quota; the owners' own quotas are untouched.
        expect(await storage.write(key('a', 'other'), retained('one', '1'), { absent: true }, quota)).toMatchObject({ ok: true });
        expect(await storage.write(key('owned'), value('one', '1'), { absent: true }, { maxEntries: 1, maxBytes: 10 })).toMatchObject({ ok: true });
        await storage.keepAlive('one', 40);
        await until("one's owned entry removed", 5000, () => removed.length === 1);
        expect(removed).toEqual(['owned']);
        expect(await storage.read(key('a'))).toMatchObject({ owner: 'one', retained: true });
      }));

    it('calls a revision past its own a history it does not hold (a store that restarted): truncated', () =>
      withStorage(async (storage) => {
        await storage.write(key('n'), value('o', '1'), { absent: true });
        expect(await storage.changesSince(500, 10)).toMatchObject({ changes: [], truncated: true, revision: 1 });
        expect(await storage.changesSince(1, 10)).toMatchObject({ changes: [], truncated: false, revision: 1 });
      }));

    it('says what an update replaced, and reads each page at one store revision', () =>
      withStorage(async (storage) => {
        const changes: StorageChange[] = [];
        await storage.subscribe('c', (change) => changes.push(change));
        await storage.write(key('n'), value('o', '1'), { absent: true });
        await storage.write(key('n'), value('o', '2'), { version: 1 });
        await until('two changes', 5000, () => changes.length === 2);
        expect(changes[1]).toMatchObject({ type: 'updated', record: { json: '2', version: 2 }, previous: { json: '1', version: 1 } });
        expect(await storage.page('c', undefined, 10, 1000)).toMatchObject({ records: [{ name: 'n' }], revision: 2 });
      }));
  });
}
