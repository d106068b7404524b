// Lock and LeaderElection over WebSocketRegistryClient, through an in-process RegistryService (LoopbackRpc): what a
// channel that drops and comes back does to a lock. The broker keeps a dropped channel's session for its grace, with
// its entries, but ends its waits (their outcome could reach nobody); a lock held meanwhile is the Lock's to clean up.
import { LeaderElection, Lock, MemoryRegistryStore, RegistryService, WebSocketRegistryClient } from '@vnf/registry';
import { VnfError } from '@vnf/core';
import { LoopbackRpc } from './loopbackRpc';
import { nextEvent, settled, until, within } from './recipeSupport';

const KEY = { collection: 'vnf.locks', name: 'printer' };

function setup() {
  const store = new MemoryRegistryStore();
  const service = new RegistryService(store);
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
  return { store, connect, closeAll };
}

/** The owner of the lock's entry, or null when there is none. */
async function holderOf(store: MemoryRegistryStore, key = KEY): Promise<string | null> {
  try {
    return (await store.get(key)).owner;
  } catch (err) {
    if (VnfError.is(err, 'NOT_FOUND')) return null;
    throw err;
  }
}

/** Resolves once `rpc` has made a waiting write (its wait is then queued at the service). */
async function waiting(rpc: LoopbackRpc): Promise<void> {
  await until('the waiting write', () => rpc.calls.some(([method]) => method === 'registry.write'));
  await settled();
}

let cleanup: () => Promise<unknown> = async () => undefined;
afterEach(() => cleanup());

describe('Lock over WebSocketRegistryClient', () => {
  it('emits lost when the channel drops while held; back within the grace, its entry goes so that the next waiter gets the lock', async () => {
    const { store, connect, closeAll } = setup();
    cleanup = closeAll;
    const a = connect('a');
    const b = connect('b');
    const alice = new Lock(a.client, 'printer');
    const { token: first } = await alice.acquire();
    const bob = new Lock(b.client, 'printer');
    const bobAcquired = bob.acquire();
    await waiting(b.rpc);
    const lost = nextEvent(alice, 'lost');
    a.rpc.interrupt();
    expect(VnfError.is((await lost)[0], 'UNAVAILABLE')).toBe(true);
    expect(alice.held).toBe(false);
    // The broker kept the session: the entry is still alice's, and bob still waits.
    expect(await holderOf(store)).toBe('a');
    a.rpc.resume();
    const { token: second } = await within(bobAcquired, 'bob acquires');
    expect(second).toBeGreaterThan(first);
    expect(await holderOf(store)).toBe('b');
  });

  it('a wait whose channel drops ends on the broker too: nothing is written for it, the next waiter takes the lock', async () => {
    const { store, connect, closeAll } = setup();
    cleanup = closeAll;
    const a = connect('a');
    const b = connect('b');
    const c = connect('c');
    const alice = new Lock(a.client, 'printer');
    await alice.acquire();
    const bob = new Lock(b.client, 'printer');
    const bobAcquired = bob.acquire();
    bobAcquired.catch(() => undefined);
    await waiting(b.rpc);
    // Bob's channel drops: his client tells him the wait failed, and the session it lives on ends it (endWaits).
    b.rpc.interrupt();
    await expect(bobAcquired).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    const carol = new Lock(c.client, 'printer');
    const carolAcquired = carol.acquire();
    await waiting(c.rpc);
    await alice.release();
    await within(carolAcquired, 'carol acquires: bob no longer waits');
    expect(await holderOf(store)).toBe('c');
    expect(bob.held).toBe(false);
    // Back within the grace, bob contends again, behind nobody: he gets it when carol lets go.
    const resynced = nextEvent(b.client, 'resynced');
    b.rpc.resume();
    await resynced;
    const again = bob.acquire();
    await waiting(b.rpc);
    await carol.release();
    await within(again, 'bob acquires after carol');
    expect(await holderOf(store)).toBe('b');
  });

  it('after the grace ran out (the session ended with its wills), the next waiter takes over with a higher token', async () => {
    const { store, connect, closeAll } = setup();
    cleanup = closeAll;
    const a = connect('a');
    const b = connect('b');
    const alice = new Lock(a.client, 'printer');
    const { token: first } = await alice.acquire();
    const bob = new Lock(b.client, 'printer');
    const bobAcquired = bob.acquire();
    await waiting(b.rpc);
    const lost = nextEvent(alice, 'lost');
    await a.rpc.drop({ unclean: true });
    await lost;
    const { token: second } = await within(bobAcquired, 'bob acquires');
    expect(second).toBeGreaterThan(first);
    expect(await store.get(KEY)).toMatchObject({ owner: 'b', version: 1 });
    // Alice's channel comes back with a fresh session: releasing her lost lock does nothing to bob's.
    a.rpc.restore();
    await alice.release();
    expect(await holderOf(store)).toBe('b');
  });
});

describe('LeaderElection over WebSocketRegistryClient', () => {
  it('a leader whose channel dropped is deposed, and campaigns again once back, behind the new leader', async () => {
    const { connect, closeAll } = setup();
    cleanup = closeAll;
    const a = connect('a');
    const b = connect('b');
    const alice = new LeaderElection(a.client, 'scheduler');
    const bob = new LeaderElection(b.client, 'scheduler');
    const { token: first } = await alice.campaign();
    const bobElected = bob.campaign();
    await waiting(b.rpc);
    const deposed = nextEvent(alice, 'deposed');
    a.rpc.interrupt();
    expect(VnfError.is((await deposed)[0], 'UNAVAILABLE')).toBe(true);
    const aliceAgain = nextEvent(alice, 'elected');
    a.rpc.resume();
    const { token: second } = await within(bobElected, 'bob elected');
    expect(second).toBeGreaterThan(first);
    expect(await alice.leader()).toBe('b');
    // Alice queued again (her campaign resumed by itself): she leads once bob resigns.
    await until('alice campaigns again', () => a.rpc.calls.filter(([method]) => method === 'registry.write').length >= 2);
    await settled();
    await bob.resign();
    const [third] = (await aliceAgain) as [number];
    expect(third).toBeGreaterThan(second);
    expect(alice.isLeader).toBe(true);
    expect(await bob.leader()).toBe('a');
  });
});
