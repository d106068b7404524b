import { Global, VnfError, type RegistryChange } from '@vnf/core';
import { MemoryRegistryStore, changeEntryJson } from '@vnf/registry';

const key = (name: string, collection = 'c') => ({ collection, name });

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'resolved';
  } catch (err) {
    return VnfError.is(err) ? err.code : `not a VnfError: ${String(err)}`;
  }
}

describe('MemoryRegistryStore', () => {
  it('creates, reads, updates and deletes with the owner rules', async () => {
    const store = new MemoryRegistryStore();
    expect(await store.create('a', key('e'), { v: 1 })).toBe(Global.OK);
    expect(await store.create('b', key('e'), { v: 2 })).toBe(Global.ALREADY_EXISTS);
    expect(await store.get(key('e'))).toEqual({ collection: 'c', name: 'e', value: { v: 1 }, owner: 'a', version: 1 });
    expect(await codeOf(store.update('b', key('e'), 0))).toBe('FORBIDDEN');
    expect(await codeOf(store.delete('b', key('e')))).toBe('FORBIDDEN');
    expect(await store.update('a', key('e'), 'v2')).toBe(Global.OK);
    expect(await store.get(key('e'))).toMatchObject({ value: 'v2', version: 2 });
    expect(await store.delete('a', key('e'))).toBe(Global.OK);
    expect(await codeOf(store.get(key('e')))).toBe('NOT_FOUND');
    expect(await codeOf(store.update('a', key('e'), 1))).toBe('NOT_FOUND');
    expect(await codeOf(store.delete('a', key('e')))).toBe('NOT_FOUND');
  });

  it('bounds the entries of one owner with TOO_LARGE, and frees the slot on delete', async () => {
    const store = new MemoryRegistryStore({ maxEntriesPerOwner: 2 });
    await store.create('a', key('1'), 1);
    await store.create('a', key('2', 'other'), 2);
    const err = await store.create('a', key('3'), 3).catch((e: unknown) => e);
    expect(VnfError.is(err, 'TOO_LARGE')).toBe(true);
    expect((err as VnfError).details).toMatchObject({ owner: 'a', limit: 2 });
    expect(await codeOf(store.get(key('3')))).toBe('NOT_FOUND');
    // An existing key is still reported as such, not as over the limit.
    expect(await store.create('a', key('1'), 1)).toBe(Global.ALREADY_EXISTS);
    expect(await store.create('b', key('3'), 3)).toBe(Global.OK);
    await store.delete('a', key('1'));
    expect(await store.create('a', key('3', 'x'), 3)).toBe(Global.OK);
  });

  it('applies maxValueBytes to the UTF-8 JSON of the value', async () => {
    const store = new MemoryRegistryStore({ maxValueBytes: 10 });
    // "éééé" is 4 characters but 8 UTF-8 bytes, 10 with the quotes.
    expect(await store.create('a', key('fits'), 'éééé')).toBe(Global.OK);
    expect(await codeOf(store.create('a', key('over'), 'ééééé'))).toBe('TOO_LARGE');
    expect(await codeOf(store.update('a', key('fits'), 'ééééé'))).toBe('TOO_LARGE');
    expect((await store.get(key('fits'))).value).toBe('éééé');
  });

  it('applies maxKeyLength to collections and names', async () => {
    const store = new MemoryRegistryStore({ maxKeyLength: 3 });
    expect(await store.create('a', key('abc', 'xyz'), 1)).toBe(Global.OK);
    expect(await codeOf(store.create('a', key('abcd'), 1))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(store.list('wxyz'))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(store.watch('wxyz', () => undefined))).toBe('INVALID_ARGUMENT');
  });

  it('refuses an invalid owner with INVALID_ARGUMENT', async () => {
    const store = new MemoryRegistryStore();
    expect(await codeOf(store.create('', key('e'), 1))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(store.create(7 as unknown as string, key('e'), 1))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(store.removeOwner(''))).toBe('INVALID_ARGUMENT');
  });

  it('throws INVALID_ARGUMENT at construction for invalid options', () => {
    for (const options of [{ maxValueBytes: 0 }, { maxEntriesPerOwner: -1 }, { maxKeyLength: 1.5 }, { maxValueBytes: Number.NaN }]) {
      expect(() => new MemoryRegistryStore(options)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
  });

  it('throws INVALID_ARGUMENT naming the option meant for a misspelt one', () => {
    expect(() => new MemoryRegistryStore({ maxValueByte: 10 } as never)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', message: 'Unknown MemoryRegistryStore option "maxValueByte". Did you mean "maxValueBytes"?' }),
    );
  });

  it('removes every entry of an owner, in key order, telling watchers, and keeps others', async () => {
    const store = new MemoryRegistryStore();
    const seen: RegistryChange[] = [];
    await store.watch('c', (change) => seen.push(change));
    await store.create('a', key('z'), 1);
    await store.create('a', key('m'), 2);
    await store.create('b', key('b'), 3);
    await store.create('a', key('a', 'other'), 4);
    seen.length = 0;
    await store.removeOwner('a');
    expect(seen.map((c) => [c.type, c.entry.name, c.entry.owner])).toEqual([
      ['removed', 'm', 'a'],
      ['removed', 'z', 'a'],
    ]);
    expect((await store.list('c')).map((e) => e.name)).toEqual(['b']);
    expect(await store.list('other')).toEqual([]);
    await store.removeOwner('nobody');
    // The owner's quota is free again.
    const small = new MemoryRegistryStore({ maxEntriesPerOwner: 1 });
    await small.create('a', key('1'), 1);
    await small.removeOwner('a');
    expect(await small.create('a', key('2'), 2)).toBe(Global.OK);
  });

  it('calls watchers synchronously in order; a throwing watcher does not stop the others nor the writer, and is rethrown, never swallowed', async () => {
    const store = new MemoryRegistryStore();
    const seen: string[] = [];
    const rethrown: (() => void)[] = [];
    const microtask = jest.spyOn(globalThis, 'queueMicrotask').mockImplementation((task) => rethrown.push(task));
    try {
      const stopBad = await store.watch('c', () => {
        throw new Error('bad watcher');
      });
      const stop = await store.watch('c', (change) => seen.push(`${change.type}:${change.entry.name}`));
      await expect(store.create('a', key('x'), 1)).resolves.toBe(Global.OK);
      expect(seen).toEqual(['added:x']);
      expect(rethrown).toHaveLength(1);
      expect(rethrown[0]).toThrow('bad watcher');
      stop();
      stopBad();
      await store.create('a', key('y'), 1);
      expect(seen).toEqual(['added:x']);
      expect(rethrown).toHaveLength(1);
    } finally {
      microtask.mockRestore();
    }
  });

  it('bounds the bytes of values one owner holds (maxBytesPerOwner), counting updates and deletes', async () => {
    const store = new MemoryRegistryStore({ maxBytesPerOwner: 1000 });
    expect(await store.create('a', key('one'), 'x'.repeat(600))).toBe(Global.OK);
    await expect(store.create('a', key('two'), 'y'.repeat(600))).rejects.toMatchObject({ code: 'TOO_LARGE', details: { limit: 1000 } });
    // Another owner has its own budget; an update replaces the old value's bytes.
    expect(await store.create('b', key('two'), 'y'.repeat(600))).toBe(Global.OK);
    expect(await store.update('a', key('one'), 'x'.repeat(900))).toBe(Global.OK);
    await expect(store.update('a', key('one'), 'x'.repeat(1200))).rejects.toMatchObject({ code: 'TOO_LARGE' });
    expect(await store.get(key('one'))).toMatchObject({ value: 'x'.repeat(900) });
    await store.delete('a', key('one'));
    expect(await store.create('a', key('three'), 'z'.repeat(900))).toBe(Global.OK);
    await store.removeOwner('a');
    expect(await store.create('a', key('four'), 'w'.repeat(990))).toBe(Global.OK);
  });

  it('lists in pages: in name order, after a name, bounded in entries and bytes (at least one entry), next until the last', async () => {
    const store = new MemoryRegistryStore();
    for (const name of ['d', 'a', 'c', 'b', 'e']) await store.create('o', key(name), name.repeat(100));
    expect(await store.listPage('c', { maxEntries: 2, maxBytes: 1e6 })).toMatchObject({ entries: [{ name: 'a' }, { name: 'b' }], next: 'b' });
    expect(await store.listPage('c', { after: 'b', maxEntries: 2, maxBytes: 1e6 })).toMatchObject({ entries: [{ name: 'c' }, { name: 'd' }], next: 'd' });
    const last = await store.listPage('c', { after: 'd', maxEntries: 2, maxBytes: 1e6 });
    expect(last.entries.map((e) => e.name)).toEqual(['e']);
    expect(last.next).toBeUndefined();
    // A name between entries (deleted meanwhile) still pages on from where it would stand.
    expect((await store.listPage('c', { after: 'bb', maxEntries: 9, maxBytes: 1e6 })).entries.map((e) => e.name)).toEqual(['c', 'd', 'e']);
    const tiny = await store.listPage('c', { maxEntries: 9, maxBytes: 10 });
    expect(tiny.entries.map((e) => e.name)).toEqual(['a']);
    expect(tiny.next).toBe('a');
    expect(await store.listPage('nothing', { maxEntries: 9, maxBytes: 10 })).toEqual({ entries: [] });
    const all = await store.listPage('c', { maxEntries: 9, maxBytes: 1e6 });
    expect(all.entries).toEqual(await store.list('c'));
    // The byte bound is an upper bound of the JSON of the page.
    const bounded = await store.listPage('c', { maxEntries: 9, maxBytes: 600 });
    expect(JSON.stringify(bounded.entries).length).toBeLessThanOrEqual(600);
  });

  it('serializes a change once for all its watchers, parses the value only for one that reads it, and never shows a later write', async () => {
    const store = new MemoryRegistryStore();
    const changes: RegistryChange[] = [];
    for (let i = 0; i < 3; i++) await store.watch('c', (change) => changes.push(change));
    await store.create('o', key('e'), { big: 'x'.repeat(1000) });
    const parse = jest.spyOn(JSON, 'parse');
    try {
      const texts = changes.map((change) => changeEntryJson(change));
      expect(new Set(texts).size).toBe(1);
      expect(parse).not.toHaveBeenCalled();
      await store.update('o', key('e'), 'later');
      // Read after the update: each watcher still sees the entry as it was when the change happened, its own copy.
      expect(JSON.parse(texts[0])).toEqual(changes[0].entry);
      expect(changes[1].entry).toEqual({ collection: 'c', name: 'e', value: { big: 'x'.repeat(1000) }, owner: 'o', version: 1 });
      expect(changes[1].entry).not.toBe(changes[2].entry);
    } finally {
      parse.mockRestore();
    }
  });

  it('gives two watches of the same function independent lives', async () => {
    const store = new MemoryRegistryStore();
    const seen: string[] = [];
    const watcher = (change: RegistryChange) => seen.push(change.entry.name);
    const stopFirst = await store.watch('c', watcher);
    await store.watch('c', watcher);
    stopFirst();
    await store.create('a', key('x'), 1);
    expect(seen).toEqual(['x']);
  });

  it('lets a watcher stop another watch while being told, without the other hearing it', async () => {
    const store = new MemoryRegistryStore();
    const seen: string[] = [];
    let stopSecond: () => void = () => undefined;
    await store.watch('c', () => stopSecond());
    stopSecond = await store.watch('c', (change) => seen.push(change.entry.name));
    await store.create('a', key('x'), 1);
    expect(seen).toEqual([]);
  });

  it('hands every watcher its own copy of the entry', async () => {
    const store = new MemoryRegistryStore();
    const values: unknown[] = [];
    await store.watch('c', (change) => {
      (change.entry.value as { n: number }).n = 99;
    });
    await store.watch('c', (change) => values.push(change.entry.value));
    await store.create('a', key('x'), { n: 1 });
    expect(values).toEqual([{ n: 1 }]);
    expect((await store.get(key('x'))).value).toEqual({ n: 1 });
  });

  it('refuses values nested deeper than the bound', async () => {
    const store = new MemoryRegistryStore();
    let deep: unknown = 'leaf';
    for (let i = 0; i < 100; i++) deep = [deep];
    expect(await codeOf(store.create('a', key('deep'), deep))).toBe('INVALID_PAYLOAD');
    let ok: unknown = 'leaf';
    for (let i = 0; i < 10; i++) ok = { next: ok };
    expect(await store.create('a', key('ok'), ok)).toBe(Global.OK);
  });

  it('names the cycle in a value that refers to itself', async () => {
    const store = new MemoryRegistryStore();
    const cyclic: Record<string, unknown> = {};
    cyclic.child = { parent: cyclic };
    await expect(store.create('a', key('loop'), cyclic)).rejects.toMatchObject({
      code: 'INVALID_PAYLOAD',
      message: expect.stringContaining('value.child.parent is a reference to itself'),
    });
    // The same object twice side by side is not a cycle.
    const shared = { s: 1 };
    expect(await store.create('a', key('twice'), [shared, shared])).toBe(Global.OK);
  });

  it('drops object properties set to undefined, as JSON does', async () => {
    const store = new MemoryRegistryStore();
    await store.create('a', key('x'), { kept: 1, dropped: undefined });
    expect((await store.get(key('x'))).value).toStrictEqual({ kept: 1 });
  });

  it('accepts objects without a prototype and refuses class instances', async () => {
    const store = new MemoryRegistryStore();
    const bare = Object.assign(Object.create(null) as object, { a: 1 });
    expect(await store.create('a', key('bare'), bare)).toBe(Global.OK);
    class Point {
      x = 1;
    }
    expect(await codeOf(store.create('a', key('point'), new Point()))).toBe('INVALID_PAYLOAD');
  });

  it("applies a will within its collection's retained quota; past it the entry is removed instead", async () => {
    const store = new MemoryRegistryStore({ maxRetainedEntriesPerCollection: 2 });
    const allowRetained = () => true;
    for (const owner of ['a', 'b', 'c']) await store.write(owner, key(`status-${owner}`), 'online', { will: { value: 'offline' } }, allowRetained);
    for (const owner of ['a', 'b', 'c']) await store.removeOwner(owner, { applyWills: true });
    const left = await store.list('c');
    expect(left.map((e) => [e.name, e.value, e.retained])).toEqual([
      ['status-a', 'offline', true],
      ['status-b', 'offline', true],
    ]);
  });
});
