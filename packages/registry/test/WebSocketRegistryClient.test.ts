import { Global, VnfError, type RegistryChange, type Rpc } from '@vnf/core';
import { MemoryRegistryStore, REGISTRY_RESYNC_NOTIFICATION, RegistryMethod, RegistryService, WebSocketRegistryClient } from '@vnf/registry';
import { LoopbackRpc } from './loopbackRpc';

const TIMEOUT_MS = 5000;

/** Resolves when `register` delivers a value, rejects after a timeout; the timer never outlives the wait. */
function nextEvent<T>(register: (resolve: (value: T) => void) => void, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Timed out waiting for ${what}`)), TIMEOUT_MS);
    register((value) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}

/** A watcher that records changes and lets a test wait for a number of them. */
function recorder() {
  const changes: RegistryChange[] = [];
  let waiter: { count: number; resolve: () => void } | null = null;
  return {
    changes,
    watcher: (change: RegistryChange) => {
      changes.push(change);
      if (waiter && changes.length >= waiter.count) waiter.resolve();
    },
    until: (count: number) =>
      nextEvent<void>((resolve) => {
        if (changes.length >= count) resolve();
        else waiter = { count, resolve };
      }, `${count} changes`).then(() => changes.map((c) => `${c.type}:${c.entry.name}:${JSON.stringify(c.entry.value)}`)),
  };
}

function setup(serviceOptions?: { maxReplyBytes?: number }) {
  const store = new MemoryRegistryStore();
  const service = new RegistryService(store, serviceOptions);
  const rpcs: LoopbackRpc[] = [];
  const clients: WebSocketRegistryClient[] = [];
  const connect = (eva: string) => {
    const rpc = new LoopbackRpc(service, eva);
    const client = new WebSocketRegistryClient(rpc);
    rpcs.push(rpc);
    clients.push(client);
    return { rpc, client };
  };
  const closeAll = () => Promise.all([...clients.map((c) => c.close()), ...rpcs.map((r) => r.close())]);
  return { store, service, connect, closeAll };
}

let cleanup: () => Promise<unknown> = async () => undefined;
afterEach(() => cleanup());

const key = (name: string) => ({ collection: 'c', name });

describe('WebSocketRegistryClient', () => {
  it('refuses something that is not an Rpc with INVALID_ARGUMENT, and takes its owner from rpc.eva', () => {
    const invalid = expect.objectContaining({ code: 'INVALID_ARGUMENT' });
    expect(() => new WebSocketRegistryClient(undefined as never)).toThrow(invalid);
    expect(() => new WebSocketRegistryClient({ eva: 'a' } as never)).toThrow(invalid);
    const { connect, closeAll } = setup();
    cleanup = closeAll;
    expect(connect('me').client.owner).toBe('me');
  });

  it('restores its entries (last value written) and resumes its watches from the change log when the channel comes back after a drop', async () => {
    const { store, connect, closeAll } = setup();
    cleanup = closeAll;
    const { rpc, client } = connect('a');
    const other = connect('b').client;
    const seen = recorder();
    await client.createEntry(key('kept'), 'v1');
    await client.updateEntry(key('kept'), 'v2');
    await client.createEntry(key('deleted'), 'x');
    await client.deleteEntry(key('deleted'));
    await client.watch('c', seen.watcher);

    await rpc.drop();
    expect(await store.list('c')).toEqual([]);
    await expect(client.listEntries('c')).rejects.toMatchObject({ code: 'UNAVAILABLE' });

    const resynced = nextEvent<void>((resolve) => client.once('resynced', resolve), 'resynced');
    rpc.restore();
    await resynced;
    expect(await store.list('c')).toEqual([{ collection: 'c', name: 'kept', value: 'v2', owner: 'a', version: 1 }]);
    await other.createEntry(key('after'), 1);
    // What happened while it was down is replayed: its entry went with the session, and came back with the restore.
    expect(await seen.until(3)).toEqual(['removed:kept:"v2"', 'added:kept:"v2"', 'added:after:1']);
  });

  it('lists a collection larger than one reply page by page, and gets all of it in order', async () => {
    const { store, connect, closeAll } = setup({ maxReplyBytes: 8_000 });
    cleanup = closeAll;
    for (let i = 0; i < 30; i++) await store.create(`w${i % 3}`, key(`e${String(i).padStart(2, '0')}`), 'v'.repeat(900));
    const { rpc, client } = connect('reader');
    const entries = await client.listEntries('c');
    expect(entries.map((e) => e.name)).toEqual(Array.from({ length: 30 }, (_, i) => `e${String(i).padStart(2, '0')}`));
    expect(rpc.calls.filter(([method]) => method === RegistryMethod.LIST).length).toBeGreaterThan(3);
  });

  it('on a registry.resync notification resumes each watch from the change log: nothing told twice, no resync event', async () => {
    const { connect, closeAll } = setup();
    cleanup = closeAll;
    const { rpc, client } = connect('a');
    const seen = recorder();
    await client.watch('c', seen.watcher);
    await client.createEntry(key('before'), 1);
    expect(await seen.until(1)).toEqual(['added:before:1']);
    const resyncs: string[] = [];
    client.on('resync', (collection) => resyncs.push(collection));
    const resumed = nextEvent<void>((resolve) => {
      const done = () => (rpc.calls.some(([method, params]) => method === RegistryMethod.WATCH && (params as { from?: number }).from === 1) ? resolve() : setTimeout(done, 5));
      done();
    }, 'the watch resumed from revision 1');
    rpc.push(REGISTRY_RESYNC_NOTIFICATION, {});
    await resumed;
    await client.createEntry(key('after'), 2);
    expect(await seen.until(2)).toEqual(['added:before:1', 'added:after:2']);
    expect(resyncs).toEqual([]);
  });

  it('a throwing resynced listener becomes a LISTENER_ERROR error event; the client keeps working', async () => {
    const { connect, closeAll } = setup();
    cleanup = closeAll;
    const { rpc, client } = connect('a');
    const errors: VnfError[] = [];
    client.on('error', (error) => errors.push(error));
    client.on('resynced', () => {
      throw new Error('resynced listener failed');
    });
    await client.createEntry(key('e'), 1);
    await rpc.drop();
    rpc.restore();
    await nextEvent<void>((resolve) => client.once('error', () => resolve()), 'the listener error');
    expect(errors).toHaveLength(1);
    expect(errors[0].code).toBe('LISTENER_ERROR');
    expect(errors[0].message).toContain('resynced listener failed');
    expect(await client.getEntry(key('e'))).toBe(1);
  });

  it('after a blink (the broker kept the session) keeps its entries with the last value and does not double its watches', async () => {
    const { store, connect, closeAll } = setup();
    cleanup = closeAll;
    const { rpc, client } = connect('a');
    const other = connect('b').client;
    const seen = recorder();
    await client.createEntry(key('e'), 'v1');
    await client.watch('c', seen.watcher);
    // The broker applied an update whose answer was lost; the client's record says v1.
    await store.update('a', key('e'), 'applied but unanswered');
    const resynced = nextEvent<void>((resolve) => client.once('resynced', resolve), 'resynced');
    rpc.blink();
    await resynced;
    expect((await store.get(key('e'))).value).toBe('v1');
    await other.createEntry(key('x'), 1);
    await other.createEntry(key('y'), 2);
    const changes = await seen.until(4);
    expect(changes).toEqual(['updated:e:"applied but unanswered"', 'updated:e:"v1"', 'added:x:1', 'added:y:2']);
  });

  it('gives up an entry another owner took while it was away, with a FORBIDDEN error event', async () => {
    const { store, connect, closeAll } = setup();
    cleanup = closeAll;
    const { rpc, client } = connect('a');
    const other = connect('b').client;
    await client.createEntry(key('contested'), 'a-value');
    await client.createEntry(key('mine'), 'still mine');
    await rpc.drop();
    expect(await other.createEntry(key('contested'), 'b-value')).toBe(Global.OK);
    const errors: VnfError[] = [];
    client.on('error', (error) => errors.push(error));
    const resynced = nextEvent<void>((resolve) => client.once('resynced', resolve), 'resynced');
    rpc.restore();
    await resynced;
    expect(errors.map((e) => e.code)).toEqual(['FORBIDDEN']);
    expect(errors[0].message).toContain('contested');
    expect(await store.get(key('contested'))).toMatchObject({ owner: 'b', value: 'b-value' });
    expect(await store.get(key('mine'))).toMatchObject({ owner: 'a', value: 'still mine' });
    // Given up for good: the next reconnection does not fight for it again.
    await rpc.drop();
    const again = nextEvent<void>((resolve) => client.once('resynced', resolve), 'second resynced');
    rpc.restore();
    await again;
    expect(errors).toHaveLength(1);
  });

  it('does not resync on the first up (the channel was never down)', async () => {
    const { connect, closeAll } = setup();
    cleanup = closeAll;
    const { rpc, client } = connect('a');
    await client.createEntry(key('e'), 1);
    let resyncs = 0;
    client.on('resynced', () => resyncs++);
    rpc.restore();
    await client.listEntries('c');
    expect(resyncs).toBe(0);
    expect(rpc.calls.filter(([method]) => method === RegistryMethod.CREATE)).toHaveLength(1);
  });

  it('on close over a shared channel deletes its entries and ends its watches explicitly, then closes the rpc', async () => {
    const { store, connect, closeAll } = setup();
    cleanup = closeAll;
    const { rpc, client } = connect('a');
    rpc.shared = true;
    const closeRpc = jest.spyOn(rpc, 'close');
    await client.createEntry(key('e1'), 1);
    await client.createEntry(key('e2'), 2);
    const stop = await client.watch('c', () => undefined);
    await client.watch('c', () => undefined);
    await stop();
    await stop();
    await client.close();
    expect(closeRpc).toHaveBeenCalledTimes(1);
    expect(await store.list('c')).toEqual([]);
    const sent = rpc.calls.map(([method]) => method);
    expect(sent.filter((m) => m === RegistryMethod.DELETE)).toHaveLength(2);
    expect(sent.filter((m) => m === RegistryMethod.UNWATCH)).toHaveLength(2);
    // The shared channel is still open, yet the closed client refuses every call.
    await expect(client.listEntries('c')).rejects.toMatchObject({ code: 'DESTROYED' });
    await expect(client.createEntry(key('e3'), 3)).rejects.toMatchObject({ code: 'DESTROYED' });
    expect(sent).toEqual(rpc.calls.map(([method]) => method));
  });

  it('closes even when the channel is down', async () => {
    const { connect, closeAll } = setup();
    cleanup = closeAll;
    const { rpc, client } = connect('a');
    await client.createEntry(key('e1'), 1);
    await rpc.drop();
    await client.close();
    await expect(client.getEntry(key('e1'))).rejects.toMatchObject({ code: 'DESTROYED' });
  });

  it('ignores other services\u2019 notifications and malformed changes', async () => {
    const listeners: Array<(method: string, params: unknown) => void> = [];
    let w1 = '';
    const rpc: Rpc = {
      eva: 'a',
      call: async (method, params) => {
        if (method === RegistryMethod.WATCH) w1 = (params as { watchId: string }).watchId;
        return { status: Global.OK };
      },
      onNotification: (listener) => {
        listeners.push(listener);
        return () => undefined;
      },
      onStateChange: () => () => undefined,
      close: async () => undefined,
    };
    const client = new WebSocketRegistryClient(rpc);
    const seen: RegistryChange[] = [];
    await client.watch('c', (change) => seen.push(change));
    const entry = { collection: 'c', name: 'n', value: 1, owner: 'b', version: 1 };
    for (const listener of listeners) {
      listener('other.service', { watchId: w1, type: 'added', entry });
      listener('registry.change', null);
      listener('registry.change', { watchId: w1, type: 'exploded', entry });
      listener('registry.change', { watchId: w1, type: 'added', entry: { name: 'n' } });
      listener('registry.change', { watchId: 'unknown', type: 'added', entry });
      listener('registry.change', { watchId: w1, type: 'added', entry });
    }
    expect(seen).toEqual([{ type: 'added', entry }]);
    await client.close();
  });

  it('rejects with PROTOCOL when the broker answers with the wrong shape', async () => {
    const rpc: Rpc = {
      eva: 'a',
      call: async () => ({ unexpected: true }),
      onNotification: () => () => undefined,
      onStateChange: () => () => undefined,
      close: async () => undefined,
    };
    const client = new WebSocketRegistryClient(rpc);
    await expect(client.createEntry(key('e'), 1)).rejects.toMatchObject({ code: 'PROTOCOL' });
    await expect(client.getEntry(key('e'))).rejects.toMatchObject({ code: 'PROTOCOL' });
    await expect(client.listEntries('c')).rejects.toMatchObject({ code: 'PROTOCOL' });
    await client.close();
  });

  it('checks values locally, so nothing is silently changed by JSON on the way to the broker', async () => {
    const { connect, closeAll } = setup();
    cleanup = closeAll;
    const { rpc, client } = connect('a');
    await expect(client.createEntry(key('d'), new Date(0))).rejects.toMatchObject({ code: 'INVALID_PAYLOAD' });
    await expect(client.createEntry(key('u'), undefined)).rejects.toMatchObject({ code: 'INVALID_PAYLOAD' });
    expect(rpc.calls).toEqual([]);
  });

  it('says UNSUPPORTED, naming the upgrade, when a 0.1 broker does not know write, remove or a watch option', async () => {
    // What a 0.1 broker answers: its RPC router does not know registry.write, its watch refuses unknown params.
    const rpc: Rpc = {
      eva: 'a',
      call: async (method: string, params: unknown) => {
        if (method === 'registry.watch' && Object.keys(params as object).some((name) => name !== 'collection' && name !== 'watchId')) {
          throw new VnfError('INVALID_ARGUMENT', 'registry.watch does not take a param "snapshot"; it takes { collection, watchId }.');
        }
        if (method === 'registry.watch' || method === 'registry.unwatch') return { status: 'OK' };
        throw new VnfError('NOT_FOUND', `The broker has no RPC method "${method}". Check the name and the broker's version.`);
      },
      onNotification: () => () => undefined,
      onStateChange: () => () => undefined,
      close: async () => undefined,
    };
    const client = new WebSocketRegistryClient(rpc);
    const tooOld = expect.objectContaining({ code: 'UNSUPPORTED', message: expect.stringContaining('Upgrade the broker') });
    await expect(client.write(key('e'), 1, { when: null })).rejects.toEqual(tooOld);
    await expect(client.remove(key('e'))).rejects.toEqual(tooOld);
    await expect(client.watch('c', () => undefined, { snapshot: true })).rejects.toEqual(tooOld);
    // A plain watch works as it did.
    const stop = await client.watch('c', () => undefined);
    await stop();
    await client.close();
  });
});
