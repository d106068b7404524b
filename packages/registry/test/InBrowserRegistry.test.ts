import assert from 'node:assert';
import { Global, VnfError, type RegistryChange } from '@vnf/core';
import * as registry from '@vnf/registry';
import { InBrowserRegistry, MemoryRegistryStore } from '@vnf/registry';

describe('InBrowserRegistry', () => {
  it('runs the seed snippet as written', (done) => {
    const Vnf = { ...registry, Global };
    const collection1Name = 'chats';
    const sharedRegistry = new Vnf.InBrowserRegistry();
    const registryClient = sharedRegistry.connect("endpoint1-name")
    Promise.resolve()
    .then(registryClient.createEntry.bind(null, {collection: collection1Name, name:"entry1"}, "entry value"))
    .then(function(status) {
    assert.equal(status, Vnf.Global.OK, "asserting status");
    })
    .then(registryClient.getEntry.bind(null, {collection: collection1Name, name:"entry1"}))
    .then(function(value){
    assert.equal(value, "entry value", "asserting inserted entry");
    })
    .then(done);
  });

  it("allows several clients of one eva, like the broker's shared owner: the eva's entries go when its last client closes", async () => {
    const reg = new InBrowserRegistry();
    const first = reg.connect('a');
    const second = reg.connect('a');
    const other = reg.connect('b');
    expect(await first.createEntry({ collection: 'c', name: 'first' }, 1)).toBe(Global.OK);
    // Written under the eva, not by this client: only the owner's last close removes it.
    await reg.store.create('a', { collection: 'c', name: 'store' }, 0);
    await first.close();
    expect((await other.listEntries('c')).map((e) => e.name)).toEqual(['store']);
    const third = reg.connect('a');
    await third.close();
    expect((await other.listEntries('c')).map((e) => e.name)).toEqual(['store']);
    await second.close();
    expect(await other.listEntries('c')).toEqual([]);
    await other.close();
  });

  it('throws INVALID_ARGUMENT for a bad eva', () => {
    const reg = new InBrowserRegistry();
    for (const eva of ['', 'x'.repeat(257), 5, null]) {
      expect(() => reg.connect(eva as string)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
  });

  it('shares a store given in the options, and refuses a store together with limits', async () => {
    const store = new MemoryRegistryStore();
    const reg = new InBrowserRegistry({ store });
    const client = reg.connect('a');
    await client.createEntry({ collection: 'c', name: 'n' }, 'v');
    expect((await store.get({ collection: 'c', name: 'n' })).owner).toBe('a');
    await client.close();
    expect(() => new InBrowserRegistry({ store, maxValueBytes: 10 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => new InBrowserRegistry({ maxValueBytes: -1 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('throws INVALID_ARGUMENT naming the option meant for a misspelt one', () => {
    expect(() => new InBrowserRegistry({ maxEntriesPerOwnr: 1 } as never)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', message: 'Unknown InBrowserRegistry option "maxEntriesPerOwnr". Did you mean "maxEntriesPerOwner"?' }),
    );
    expect(() => new InBrowserRegistry({ store: {} as never })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('"store"') }));
  });

  it('passes limits to its own store', async () => {
    const client = new InBrowserRegistry({ maxEntriesPerOwner: 1 }).connect('a');
    await client.createEntry({ collection: 'c', name: '1' }, 1);
    await expect(client.createEntry({ collection: 'c', name: '2' }, 2)).rejects.toMatchObject({ code: 'TOO_LARGE' });
    await client.close();
  });

  it('tells watchers on a later turn, never inside the call that made the change', async () => {
    const reg = new InBrowserRegistry();
    const client = reg.connect('a');
    const seen: RegistryChange[] = [];
    let told!: () => void;
    const heard = new Promise<void>((resolve) => (told = resolve));
    await client.watch('c', (change) => {
      seen.push(change);
      told();
    });
    await client.createEntry({ collection: 'c', name: 'n' }, 1);
    expect(seen).toEqual([]);
    await heard;
    expect(seen.map((c) => c.type)).toEqual(['added']);
    await client.close();
  });

  it('reports a throwing watcher as a LISTENER_ERROR error event', async () => {
    const reg = new InBrowserRegistry();
    const client = reg.connect('a') as registry.InBrowserRegistryClient;
    const reported = new Promise<VnfError>((resolve) => client.on('error', resolve));
    await client.watch('c', () => {
      throw new Error('boom');
    });
    await client.createEntry({ collection: 'c', name: 'n' }, 1);
    const error = await reported;
    expect(error.code).toBe('LISTENER_ERROR');
    expect(error.message).toContain('boom');
    await client.close();
  });

  it('does not tell the closing client about its own entries going away', async () => {
    const reg = new InBrowserRegistry();
    const a = reg.connect('a');
    const b = reg.connect('b');
    const ownSeen: RegistryChange[] = [];
    const otherSeen: RegistryChange[] = [];
    let told!: () => void;
    const heard = new Promise<void>((resolve) => (told = resolve));
    await a.createEntry({ collection: 'c', name: 'n' }, 1);
    await a.watch('c', (change) => ownSeen.push(change));
    await b.watch('c', (change) => {
      otherSeen.push(change);
      told();
    });
    await a.close();
    await heard;
    expect(otherSeen.map((c) => c.type)).toEqual(['removed']);
    expect(ownSeen).toEqual([]);
    await b.close();
  });
});
