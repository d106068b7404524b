import { InBrowserRegistry, Lock } from '@vnf/registry';
import { VnfError, type RegistryClient } from '@vnf/core';
import { events, nextEvent, settled, within } from './recipeSupport';

const KEY = { collection: 'vnf.locks', name: 'printer' };

describe('Lock', () => {
  let registry: InBrowserRegistry;
  let clients: RegistryClient[];
  const connect = (eva: string): RegistryClient => {
    const client = registry.connect(eva);
    clients.push(client);
    return client;
  };

  beforeEach(() => {
    registry = new InBrowserRegistry();
    clients = [];
  });
  afterEach(async () => {
    await Promise.all(clients.map((client) => client.close()));
  });

  it('acquires a free lock with a fencing token, stores its holder, and releases it', async () => {
    const client = connect('alice');
    const lock = new Lock(client, 'printer', { info: { desk: 3 } });
    expect(lock.held).toBe(false);
    expect(lock.token).toBeNull();
    const acquired = nextEvent(lock, 'acquired');
    const { token } = await lock.acquire();
    expect(await acquired).toEqual([token]);
    expect(Number.isSafeInteger(token) && token > 0).toBe(true);
    expect(lock.held).toBe(true);
    expect(lock.token).toBe(token);
    const entry = await registry.store.get(KEY);
    expect(entry).toMatchObject({ owner: 'alice', version: 1, value: { holder: 'alice', info: { desk: 3 } } });

    const released = nextEvent(lock, 'released');
    await lock.release();
    await released;
    expect(lock.held).toBe(false);
    expect(lock.token).toBeNull();
    await expect(registry.store.get(KEY)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    // Releasing what is not held does nothing.
    await lock.release();
  });

  it('lets one contender hold it at a time and hands it over first come, first served, with growing tokens', async () => {
    const holder = new Lock(connect('a'), 'printer');
    const first = await holder.acquire();
    const evas = ['b', 'c', 'd'];
    const waiters = evas.map((eva) => new Lock(connect(eva), 'printer'));
    const order: string[] = [];
    const tokens: number[] = [first.token];
    const pending: Array<Promise<void>> = [];
    for (const [i, lock] of waiters.entries()) {
      pending.push(
        (async () => {
          const { token } = await lock.acquire();
          order.push(evas[i]!);
      tokens.push(token);
          // Only one holds at a time: each waiter finds the others not holding.
          expect(waiters.filter((other) => other.held)).toEqual([lock]);
          await settled();
          await lock.release();
        })(),
      );
      // Queued in this order: settled() lets each wait reach the store before the next is called.
      await settled();
    }
    expect(waiters.some((lock) => lock.held)).toBe(false);
    await holder.release();
    await within(Promise.all(pending), 'the waiters');
    expect(order).toEqual(['b', 'c', 'd']);
    for (let i = 1; i < tokens.length; i++) expect(tokens[i]!).toBeGreaterThan(tokens[i - 1]!);
  });

  it('rejects TIMEOUT after timeoutMs and takes nothing; the lock goes to the next waiter', async () => {
    const holder = new Lock(connect('a'), 'printer');
    await holder.acquire();
    const late = new Lock(connect('b'), 'printer');
    await expect(late.acquire({ timeoutMs: 20 })).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(late.held).toBe(false);
    const next = new Lock(connect('c'), 'printer');
    const nextAcquired = next.acquire();
    await settled();
    await holder.release();
    await within(nextAcquired, 'c acquires');
    expect((await registry.store.get(KEY)).owner).toBe('c');
    // The timed-out Lock may try again.
    const again = late.acquire();
    await settled();
    await next.release();
    await within(again, 'b acquires again');
    expect(late.held).toBe(true);
  });

  it('rejects CANCELLED when the signal fires, before or during the wait, and writes nothing', async () => {
    const holder = new Lock(connect('a'), 'printer');
    await holder.acquire();
    const waiter = new Lock(connect('b'), 'printer');
    await expect(waiter.acquire({ signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'CANCELLED' });
    const controller = new AbortController();
    const waiting = waiter.acquire({ signal: controller.signal });
    await settled();
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ code: 'CANCELLED' });
    await holder.release();
    await settled();
    expect(await registry.store.list('vnf.locks')).toEqual([]);
    expect(waiter.held).toBe(false);
  });

  it('refuses a second acquire on the same Lock with INVALID_ARGUMENT, while acquiring and while held', async () => {
    const holder = new Lock(connect('a'), 'printer');
    await holder.acquire();
    const lock = new Lock(connect('b'), 'printer');
    const first = lock.acquire();
    await expect(lock.acquire()).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('already being acquired') });
    await expect(lock.release()).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await settled();
    await holder.release();
    await within(first, 'b acquires');
    await expect(lock.acquire()).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('already held') });
    expect(lock.held).toBe(true);
  });

  it('emits lost when its client is dropped while holding, and the next waiter takes over with a higher token', async () => {
    const aliceClient = connect('alice');
    const alice = new Lock(aliceClient, 'printer');
    const { token: first } = await alice.acquire();
    const bob = new Lock(connect('bob'), 'printer');
    const bobAcquired = bob.acquire();
    await settled();
    const lost = nextEvent(alice, 'lost');
    registry.drop(aliceClient);
    const [error] = await lost;
    expect(VnfError.is(error, 'UNAVAILABLE')).toBe(true);
    expect(alice.held).toBe(false);
    expect(alice.token).toBeNull();
    const { token: second } = await within(bobAcquired, 'bob acquires');
    expect(second).toBeGreaterThan(first);
    // The recreated entry starts again at version 1: only the token tells the two holds apart.
    expect(await registry.store.get(KEY)).toMatchObject({ owner: 'bob', version: 1 });
    // Releasing a lost lock does nothing (and does not touch bob's).
    await alice.release();
    expect(bob.held).toBe(true);
  });

  it('after a lost lock, removes its stale entry once the client resynced, so that others are not blocked', async () => {
    const aliceClient = connect('alice');
    const alice = new Lock(aliceClient, 'printer');
    await alice.acquire();
    const bob = new Lock(connect('bob'), 'printer');
    const bobAcquired = bob.acquire();
    await settled();
    // The channel blinks: the entry stays (it came back within the grace), but alice can no longer be sure she holds it.
    const lost = nextEvent(alice, 'lost');
    events(aliceClient).emit('down');
    await lost;
    expect(alice.held).toBe(false);
    expect((await registry.store.get(KEY)).owner).toBe('alice');
    events(aliceClient).emit('resynced');
    await within(bobAcquired, 'bob acquires after the stale entry went');
    expect((await registry.store.get(KEY)).owner).toBe('bob');
  });

  it('leaves another acquisition of the same eva alone when cleaning up (the token, not the version, names a hold)', async () => {
    const client = connect('alice');
    const first = new Lock(client, 'printer');
    await first.acquire();
    events(client).emit('down');
    // The entry goes (as a will would) and another Lock of the same eva takes it: a new entry, version 1 again.
    await registry.store.remove('alice', KEY);
    const second = new Lock(client, 'printer');
    await second.acquire();
    events(client).emit('resynced');
    await settled();
    await settled();
    expect(second.held).toBe(true);
    expect(await registry.store.get(KEY)).toMatchObject({ owner: 'alice', version: 1 });
  });

  it('emits lost instead of released when its entry was already gone', async () => {
    const lock = new Lock(connect('alice'), 'printer');
    await lock.acquire();
    await registry.store.remove('alice', KEY);
    const lost = nextEvent(lock, 'lost');
    await lock.release();
    const [error] = await lost;
    expect(VnfError.is(error, 'NOT_FOUND')).toBe(true);
    expect(lock.held).toBe(false);
  });

  it('is no longer held once its client closed (the entry went with it), and the next waiter gets it', async () => {
    const client = connect('alice');
    const lock = new Lock(client, 'printer');
    await lock.acquire();
    const bob = new Lock(connect('bob'), 'printer');
    const bobAcquired = bob.acquire();
    await settled();
    await client.close();
    expect(lock.held).toBe(false);
    expect(lock.token).toBeNull();
    await within(bobAcquired, 'bob acquires');
    await lock.release();
    expect(bob.held).toBe(true);
  });

  it('reports a throwing listener as an error event (LISTENER_ERROR) and still holds', async () => {
    const lock = new Lock(connect('alice'), 'printer');
    lock.on('acquired', () => {
      throw new Error('boom');
    });
    const error = nextEvent(lock, 'error');
    await lock.acquire();
    expect((await error)[0]).toMatchObject({ code: 'LISTENER_ERROR' });
    expect(lock.held).toBe(true);
  });

  it('works unbound, in its own collection', async () => {
    const lock = new Lock(connect('alice'), 'printer', { collection: 'office' });
    const { acquire, release } = lock;
    await acquire();
    expect((await registry.store.get({ collection: 'office', name: 'printer' })).value).toMatchObject({ holder: 'alice' });
    await release();
    expect(await registry.store.list('office')).toEqual([]);
  });

  it('checks its arguments: INVALID_ARGUMENT for a bad client, name or option, naming the option meant', async () => {
    const client = connect('alice');
    expect(() => new Lock({} as RegistryClient, 'x')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => new Lock(client, '')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => new Lock(client, 'x', { colection: 'y' } as never)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('Did you mean "collection"') }),
    );
    expect(() => new Lock(client, 'x', { collection: '' })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    const lock = new Lock(client, 'x');
    await expect(lock.acquire({ timeoutMs: -1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(lock.acquire({ timout: 5 } as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(lock.acquire({ signal: {} as AbortSignal })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(lock.held).toBe(false);
  });
});
